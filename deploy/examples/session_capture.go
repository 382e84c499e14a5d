// Session capture from Go (github.com/mattn/go-sqlite3, built with
// `go build -tags libsqlite3` so that it uses the system's SQLite, which the
// extension needs): a transfer between two accounts, recorded by slipway as
// one changeset. Usage: go run -tags libsqlite3 session_capture.go app.db
package main

import (
	"database/sql"
	"os"

	sqlite3 "github.com/mattn/go-sqlite3"
)

func main() {
	// Every connection of the pool loads the extension.
	sql.Register("sqlite3_slipway", &sqlite3.SQLiteDriver{Extensions: []string{"libslipway_capture"}})
	db, err := sql.Open("sqlite3_slipway", os.Args[1]+"?_txlock=immediate")
	if err != nil {
		panic(err)
	}
	tx, _ := db.Begin()
	tx.Exec("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
	tx.Exec("UPDATE accounts SET balance = balance + 10 WHERE id = 2")
	tx.Exec("SELECT slipway_capture()") // the one added line, just before each commit
	if err := tx.Commit(); err != nil {
		panic(err)
	}
}
