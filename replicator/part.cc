// placeholder translation unit; the part's code arrives with its issue.
