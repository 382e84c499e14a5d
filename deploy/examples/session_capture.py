# Session capture from Python: a transfer between two accounts, recorded by
# slipway as one changeset. Usage: python3 session_capture.py app.db
import ctypes, os, sqlite3, sys

# Every connection opened after this call has the extension (Debian's Python
# cannot load extensions through sqlite3.Connection.load_extension).
ctypes.CDLL(os.environ.get("SLIPWAY_CAPTURE_LIBRARY", "libslipway_capture.so")).slipway_capture_register()
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
db.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2")
db.execute("SELECT slipway_capture()")  # the one added line, just before each commit
db.commit()
