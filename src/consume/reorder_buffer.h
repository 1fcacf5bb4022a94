// consume/reorder_buffer.h — puts each key's records back in sequence order
// within a tolerance (the FleetOps design: "ring buffer per vehicle (last 10
// frames), reorder if within 2-frame tolerance, drop messages outside").
//
// Per key it remembers the next sequence number it expects. A record with
// that number is released at once, with any held records that follow it
// without a gap. A record ahead of it is held while the gap may still fill:
// until the newest sequence seen is more than |tolerance| past the missing
// one, until more than |window| records are held, or until the oldest held
// record has waited |max_wait| (Expire()). Then the gap is given up and the
// held records are released in order. A record behind the expected number
// (it arrived more than |tolerance| frames late, or repeats one already
// released or held) is late. The first record of a key starts its sequence.
//
// One buffer per partition (a key lives in one partition), so that a
// revoked partition's buffer is simply dropped. Not thread-safe; the runtime
// guards it with its own lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace weir::consume {

template <typename T>
class ReorderBuffer {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  ReorderBuffer(int window, int tolerance) : window_(window), tolerance_(tolerance) {}

  // Offers |item| with sequence |seq| for |key|. Appends the items now ready
  // to |release| in sequence order, and |item| to |late| when it is late.
  // Returns true when |item| arrived out of order but in time (reordered).
  bool Offer(const std::string& key, int64_t seq, T item, TimePoint now, std::vector<T>* release,
             std::vector<T>* late) {
    KeyState& k = keys_[key];
    if (!k.started) {
      k.started = true;
      k.next = seq;
      k.max_seen = seq;
    }
    if (seq < k.next || k.held.count(seq) != 0) {
      late->push_back(std::move(item));
      return false;
    }
    const bool out_of_order = seq < k.max_seen;
    if (seq > k.max_seen) k.max_seen = seq;
    k.held.emplace(seq, Held{std::move(item), now});
    ++held_;
    Release(k, release);
    return out_of_order;
  }

  // Releases, for every key whose oldest held record arrived before
  // |cutoff|, everything it holds (the gaps are given up).
  // Keys keep their cursor once empty, so that a late record is still
  // recognised; the map grows with the number of distinct keys.
  void Expire(TimePoint cutoff, std::vector<T>* release) {
    if (held_ == 0) return;
    for (auto& [key, k] : keys_) {
      if (!k.held.empty() && OldestArrival(k) < cutoff) ReleaseAll(k, release);
    }
  }

  // The arrival time of the oldest held record, or TimePoint::max().
  TimePoint OldestHeld() const {
    TimePoint t = TimePoint::max();
    if (held_ == 0) return t;
    for (const auto& [key, k] : keys_) {
      if (!k.held.empty()) t = std::min(t, OldestArrival(k));
    }
    return t;
  }

  // Releases everything held, in order per key.
  void Flush(std::vector<T>* release) {
    for (auto& [key, k] : keys_) ReleaseAll(k, release);
  }

  size_t held() const { return held_; }

 private:
  struct Held {
    T item;
    TimePoint arrived;
  };
  struct KeyState {
    bool started = false;
    int64_t next = 0;      // the sequence expected next
    int64_t max_seen = 0;  // the highest sequence offered
    std::map<int64_t, Held> held;
  };

  static TimePoint OldestArrival(const KeyState& k) {
    TimePoint t = TimePoint::max();
    for (const auto& [seq, h] : k.held) t = std::min(t, h.arrived);
    return t;
  }

  void Release(KeyState& k, std::vector<T>* release) {
    while (!k.held.empty()) {
      auto first = k.held.begin();
      const bool contiguous = first->first == k.next;
      const bool gap_given_up =
          k.max_seen - k.next > tolerance_ || static_cast<int64_t>(k.held.size()) > window_;
      if (!contiguous && !gap_given_up) break;
      k.next = first->first + 1;
      release->push_back(std::move(first->second.item));
      k.held.erase(first);
      --held_;
    }
  }

  void ReleaseAll(KeyState& k, std::vector<T>* release) {
    for (auto& [seq, h] : k.held) {
      release->push_back(std::move(h.item));
      k.next = seq + 1;
      --held_;
    }
    k.held.clear();
  }

  int window_;
  int tolerance_;
  size_t held_ = 0;
  std::unordered_map<std::string, KeyState> keys_;
};

}  // namespace weir::consume
