#pragma once
// Binds a target to one history of its SQLite source file.
//
// The target's position (slipway.migration.applied_seq) is only a changelog
// sequence number, so a copy of the file, a backup restored over it, or any
// other file of the same migration would look like the file the target
// followed: the stream would skip or mix in their changes and report success.
// A history token tells them apart: a random id kept in the file
// (_slipway_meta 'history') and in the target (slipway.migration.history),
// made at the snapshot. Every time an applier attaches (a stream starts or
// reconnects, a cutover takes the applier role) it checks that both agree and
// moves both to a new token: first the file, which keeps the token the target
// holds as 'history_prev' (so a crash before the target is written is
// accepted at the next attach), then the target. Every copy of the file made
// before that attach keeps an older token and is refused from then on; of a
// fork both sides keep writing to, whichever attaches second is refused.
//
// Guarantee: stream, cutover, snapshot (resuming) and verify refuse a source
// (Code::kWrongSource, nothing written to either side) when
//  - its token is neither the target's nor the one an interrupted attach
//    replaced: a copy or backup made before the latest attach, a fork another
//    applier attached to since, another file carrying the same migration;
//  - its changelog ends below the target's position (the newest changelog row
//    is never pruned, so a file's newest seq never goes down): the file went
//    back to an older state.
// A running stream checks both again in every round.
// Limits: a copy made after the latest attach carries the current token. Used
// in place of the source (or restored over it) before the next attach, it is
// only told apart once its changelog is behind the target's position; if the
// app wrote at least as many changes to it as were lost, it is followed.
// The token checks identity, not content: a file edited by hand (e.g. its
// _slipway_meta rewritten) is not detected. A migration made before tokens
// existed (neither side holds one) takes one at its first attach.
// Thread-safety: plain functions over the caller's connections.

#include <string>

#include "common/pg.h"
#include "common/sqlite.h"

namespace slipway::replicator {

inline constexpr const char* kHistoryKey = "history";
inline constexpr const char* kHistoryPrevKey = "history_prev";

// A new random token (32 hex digits).
std::string NewHistoryToken();

// The read-only check (verify, a cutover's first look, a resumed snapshot):
// writes nothing. OK when there is nothing to bind: the target holds no
// migration, or the file has no capture installed.
Status CheckSourceHistory(Db& db, PgConn& pg, const std::string& source_path);

// The applier's check: as CheckSourceHistory, then moves both sides to a new
// token, returned for CheckSourceRound. Refused: nothing written.
// REQUIRES: the caller holds the migration's applier lock; no transaction is
// open on `db`; the target's state schema is current (EnsureStateSchema).
Result<std::string> AttachSourceHistory(Db& db, PgConn& pg, const std::string& source_path);

// Per apply round, inside the caller's read transaction: the file still
// carries the token the applier attached with, and its newest changelog seq
// is not below the applied position.
Status CheckSourceRound(Db& db, const std::string& token, int64_t newest_seq, int64_t applied,
                        const std::string& source_path);

}  // namespace slipway::replicator
