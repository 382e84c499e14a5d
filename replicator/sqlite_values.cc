#include "replicator/sqlite_values.h"

namespace slipway::replicator {

void BindSqlValue(Stmt& st, int i, const schema::SqlValue& v) {
  switch (v.type) {
    case SQLITE_INTEGER: st.Bind(i, v.i); break;
    case SQLITE_FLOAT: st.Bind(i, v.d); break;
    case SQLITE_TEXT: st.Bind(i, v.bytes); break;
    case SQLITE_BLOB: st.BindBlob(i, v.bytes.data(), static_cast<int>(v.bytes.size())); break;
    default: st.BindNull(i); break;
  }
}

void AppendKeyBytes(const schema::SqlValue& v, std::string* out) {
  out->push_back(static_cast<char>('0' + v.type));
  switch (v.type) {
    case SQLITE_INTEGER: out->append(std::to_string(v.i)).append(";"); break;
    case SQLITE_FLOAT: out->append(reinterpret_cast<const char*>(&v.d), sizeof v.d); break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: out->append(std::to_string(v.bytes.size())).append(":").append(v.bytes); break;
    default: break;
  }
}

std::string SqlValueText(const schema::SqlValue& v) {
  switch (v.type) {
    case SQLITE_INTEGER: return std::to_string(v.i);
    case SQLITE_FLOAT: return schema::RealToText(v.d);
    case SQLITE_TEXT: return "'" + std::string(v.bytes.substr(0, 80)) + (v.bytes.size() > 80 ? "...'" : "'");
    case SQLITE_BLOB: return "blob of " + std::to_string(v.bytes.size()) + " bytes";
    default: return "NULL";
  }
}

}  // namespace slipway::replicator
