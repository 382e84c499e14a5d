#pragma once
// Internals of the reverse value codec (schema/reverse_codec.h), shared by
// its .cc files: the date/time decoders and the error every decoder returns.
// Not for use outside the codec.
// Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "common/status.h"
#include "schema/mapping.h"
#include "schema/reverse_codec.h"

namespace slipway::schema::reverse_internal {

// The error for a printed value that has no exact form in the column's
// representation; names the value, the type and why.
Status Misfit(std::string_view pg_text, const ColumnMapping& col, const std::string& why);

// kDateText: the printed date/time into TEXT in col.format (reverse_date.cc).
Status DecodeDateText(std::string_view pg_text, const ColumnMapping& col, OwnedValue* out);

// kUnixSeconds / kUnixMillis: the printed timestamp into epoch INTEGER.
Status DecodeEpoch(std::string_view pg_text, const ColumnMapping& col, OwnedValue* out);

}  // namespace slipway::schema::reverse_internal
