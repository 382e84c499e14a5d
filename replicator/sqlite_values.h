#pragma once
// SQLite values as the pipeline's rows carry them (row_cursor.h): bound to a
// statement, turned into the bytes of a key, shown in a message.
// Thread-safety: free functions over the caller's objects.

#include <string>

#include "common/sqlite.h"
#include "schema/codec.h"

namespace slipway::replicator {

// Binds `v` as it is: the same storage class, the same bytes.
void BindSqlValue(Stmt& st, int i, const schema::SqlValue& v);

// The bytes of one key part, self-delimiting so that (1, 11) and (11, 1)
// differ, for matching keys across cursors.
void AppendKeyBytes(const schema::SqlValue& v, std::string* out);

// A value as it appears in a message: numbers as they are (a REAL with the
// digits that read back as the same double), text quoted and cut after 80
// bytes, a blob by its size.
std::string SqlValueText(const schema::SqlValue& v);

}  // namespace slipway::replicator
