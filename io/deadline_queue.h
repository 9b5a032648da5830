// Deadlines of many slots (transfers, clients), earliest first, for an event
// loop that sleeps until the next one. A slot's deadline usually moves later
// on every packet; moving it later costs nothing here: the slot keeps its
// earlier entry, and when that entry comes due the caller finds the real
// deadline is later and schedules again. Entries are (index, generation), so
// an entry that outlives its slot is recognised and skipped.
#ifndef TFTPD_IO_DEADLINE_QUEUE_H_
#define TFTPD_IO_DEADLINE_QUEUE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "io/event_backend.h"

namespace io {

class DeadlineQueue {
 public:
  // Per-slot bookkeeping, kept by the caller with the slot.
  struct Slot {
    TimePoint scheduled = TimePoint::max();  // The slot's live entry.
  };

  // Makes sure the slot has an entry no later than `when`.
  void Schedule(uint32_t index, uint32_t generation, TimePoint when,
                Slot* slot) {
    if (when >= slot->scheduled) return;
    slot->scheduled = when;
    heap_.push(Entry{when, index, generation});
  }

  std::optional<TimePoint> earliest() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.top().when;
  }

  // Pops every entry due by `now`. For each, `lookup(index, generation)`
  // returns the slot's bookkeeping, or null when the slot is gone; live
  // entries are handed to `due(index)` after clearing the slot's schedule.
  template <typename Lookup, typename Due>
  void PopDue(TimePoint now, Lookup lookup, Due due) {
    while (!heap_.empty() && heap_.top().when <= now) {
      const Entry entry = heap_.top();
      heap_.pop();
      Slot* slot = lookup(entry.index, entry.generation);
      if (slot == nullptr || slot->scheduled != entry.when) continue;
      slot->scheduled = TimePoint::max();
      due(entry.index);
    }
  }

  size_t size() const { return heap_.size(); }

 private:
  struct Entry {
    TimePoint when;
    uint32_t index;
    uint32_t generation;
    bool operator>(const Entry& other) const { return when > other.when; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
};

}  // namespace io

#endif  // TFTPD_IO_DEADLINE_QUEUE_H_
