#pragma once
// The order-independent comparison behind verify, in two steps:
//  1. BucketSums: each side adds every row to bucket hash(key) % B, keeping
//     per bucket (row count, sum of row hashes mod 2^64): constant memory,
//     any row order gives the same sums.
//  2. For the buckets that differ, NarrowSide keeps each row's hashes (and,
//     for a budget of buckets, the whole canonical row); MergeSides sorts
//     both and names every key that is missing, extra or different.
// Thread-safety: each object belongs to one thread (one per side).

#include <cstdint>
#include <string>
#include <vector>

#include "cutover/row_frame.h"

namespace slipway::cutover {

struct Bucket {
  uint64_t count = 0;
  uint64_t sum = 0;
  bool operator==(const Bucket&) const = default;
};

class BucketSums {
 public:
  // REQUIRES: buckets > 0.
  explicit BucketSums(size_t buckets) : buckets_(buckets) {}

  size_t Index(uint64_t key_hash) const { return key_hash % buckets_.size(); }
  void Add(const RowHashes& h) {
    Bucket& b = buckets_[Index(h.key)];
    ++b.count;
    b.sum += h.row;
    ++rows_;
  }
  int64_t rows() const { return rows_; }
  size_t size() const { return buckets_.size(); }
  const Bucket& at(size_t i) const { return buckets_[i]; }

 private:
  std::vector<Bucket> buckets_;
  int64_t rows_ = 0;
};

// Indexes of the buckets whose count or sum differ. REQUIRES: same sizes.
std::vector<size_t> DifferingBuckets(const BucketSums& a, const BucketSums& b);

// What the second pass keeps of a bucket.
enum class Keep : uint8_t { kNothing, kHashes, kRows };

class NarrowSide {
 public:
  // `keep` has one entry per bucket; it must outlive this object.
  explicit NarrowSide(const std::vector<Keep>* keep) : keep_(keep) {}

  void Add(const RowFrame& frame);

  struct Entry {
    uint64_t key = 0;
    uint64_t pending = 0;
    uint64_t row = 0;
    int64_t frame = -1;  // index into frames(), or -1 when only hashes are kept
  };
  std::vector<Entry>& entries() { return entries_; }
  const std::vector<std::string>& frames() const { return frames_; }

 private:
  const std::vector<Keep>* keep_;
  std::vector<Entry> entries_;
  std::vector<std::string> frames_;
};

enum class DiffKind { kMissing, kExtra, kDifferent };
const char* DiffKindName(DiffKind k);  // "missing in target", ...

struct KeyDifference {
  DiffKind kind = DiffKind::kDifferent;
  uint64_t pending_hash = 0;  // to match against the changelog
  int64_t source_frame = -1;  // the rows, when kept (first of the key's rows)
  int64_t target_frame = -1;
};

// Sorts both sides' entries and returns every key whose rows differ: present
// on one side only, or with other row hashes (several rows under one key, as
// SQLite allows for NULL keys, compare as a multiset).
std::vector<KeyDifference> MergeSides(NarrowSide& source, NarrowSide& target);

}  // namespace slipway::cutover
