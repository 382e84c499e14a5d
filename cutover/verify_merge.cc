#include "cutover/verify_merge.h"

#include <algorithm>

namespace slipway::cutover {

std::vector<size_t> DifferingBuckets(const BucketSums& a, const BucketSums& b) {
  std::vector<size_t> out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a.at(i) == b.at(i))) out.push_back(i);
  }
  return out;
}

void NarrowSide::Add(const RowFrame& frame) {
  const RowHashes h = HashRow(frame);
  const Keep keep = (*keep_)[h.key % keep_->size()];
  if (keep == Keep::kNothing) return;
  Entry e{h.key, h.pending, h.row, -1};
  if (keep == Keep::kRows) {
    e.frame = static_cast<int64_t>(frames_.size());
    frames_.emplace_back(frame.data());
  }
  entries_.push_back(e);
}

const char* DiffKindName(DiffKind k) {
  switch (k) {
    case DiffKind::kMissing: return "missing in target";
    case DiffKind::kExtra: return "extra in target";
    case DiffKind::kDifferent: return "different";
  }
  return "?";
}

std::vector<KeyDifference> MergeSides(NarrowSide& source, NarrowSide& target) {
  auto by_key = [](const NarrowSide::Entry& a, const NarrowSide::Entry& b) {
    return a.key != b.key ? a.key < b.key : a.row < b.row;
  };
  auto& s = source.entries();
  auto& t = target.entries();
  std::sort(s.begin(), s.end(), by_key);
  std::sort(t.begin(), t.end(), by_key);
  std::vector<KeyDifference> out;
  size_t i = 0, j = 0;
  while (i < s.size() || j < t.size()) {
    // The next key on either side, and its group of rows on each.
    uint64_t key = 0;
    if (i < s.size() && (j >= t.size() || s[i].key <= t[j].key)) {
      key = s[i].key;
    } else {
      key = t[j].key;
    }
    size_t i2 = i, j2 = j;
    while (i2 < s.size() && s[i2].key == key) ++i2;
    while (j2 < t.size() && t[j2].key == key) ++j2;
    bool same = i2 - i == j2 - j;
    for (size_t k = 0; same && k < i2 - i; ++k) same = s[i + k].row == t[j + k].row;
    if (!same) {
      KeyDifference d;
      d.kind = i2 == i ? DiffKind::kExtra : j2 == j ? DiffKind::kMissing : DiffKind::kDifferent;
      d.pending_hash = i2 > i ? s[i].pending : t[j].pending;
      d.source_frame = i2 > i ? s[i].frame : -1;
      d.target_frame = j2 > j ? t[j].frame : -1;
      out.push_back(d);
    }
    i = i2;
    j = j2;
  }
  return out;
}

}  // namespace slipway::cutover
