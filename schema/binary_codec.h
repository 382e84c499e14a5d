#pragma once
// PostgreSQL's binary COPY format for mapped values: what the server parses
// fastest (no text parsing of numbers, dates and times). Each value is first
// checked exactly as EncodeForPg() checks it, so binary and text agree on what
// fits; the text form is then turned into the type's binary form.
// Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "common/status.h"
#include "schema/codec.h"
#include "schema/mapping.h"

namespace slipway::schema {

// Appends the field (int32 length + bytes) for a non-NULL value.
Status EncodeBinaryField(const SqlValue& v, const ColumnMapping& col, std::string* out, std::string* scratch);

// Appends a NULL field (length -1).
void AppendBinaryNull(std::string* out);
void AppendInt16(int16_t v, std::string* out);
void AppendInt32(int32_t v, std::string* out);
void AppendInt64(int64_t v, std::string* out);

// The COPY BINARY header and trailer.
void AppendBinaryHeader(std::string* out);
void AppendBinaryTrailer(std::string* out);

// Text-to-binary conversions (exposed for tests): PostgreSQL epoch is
// 2000-01-01; results in days / microseconds.
bool ParseDateDays(std::string_view s, int32_t* days);
bool ParseTimestampMicros(std::string_view s, bool with_zone, int64_t* micros);
bool ParseTimeMicros(std::string_view s, int64_t* micros);
// numeric text ("-12.50", "1e+100", "Infinity") into numeric's binary form.
bool NumericToBinary(std::string_view s, std::string* out);

}  // namespace slipway::schema
