#include "server/engine/transfer_table.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>

namespace tftpd {

absl::string_view TransferPhaseName(TransferPhase phase) {
  switch (phase) {
    case TransferPhase::kFree:
      return "free";
    case TransferPhase::kWaitingForFile:
      return "waiting_for_file";
    case TransferPhase::kWaitingForStream:
      return "waiting_for_stream";
    case TransferPhase::kSending:
      return "sending";
    case TransferPhase::kReceiving:
      return "receiving";
    case TransferPhase::kEnded:
      return "ended";
  }
  return "unknown";
}

bool IsAllowedTransition(TransferPhase from, TransferPhase to) {
  using P = TransferPhase;
  switch (from) {
    case P::kFree:
      return to == P::kWaitingForFile || to == P::kWaitingForStream ||
             to == P::kSending || to == P::kReceiving;
    case P::kWaitingForFile:
    case P::kWaitingForStream:
      return to == P::kSending || to == P::kEnded;
    case P::kSending:
    case P::kReceiving:
      return to == P::kEnded;
    case P::kEnded:
      return to == P::kFree;
  }
  return false;
}

namespace {

void CheckTransition(TransferPhase from, TransferPhase to) {
#ifndef NDEBUG
  if (!IsAllowedTransition(from, to)) {
    std::fprintf(stderr, "impossible transfer transition %s -> %s\n",
                 std::string(TransferPhaseName(from)).c_str(),
                 std::string(TransferPhaseName(to)).c_str());
    std::abort();
  }
#endif
}

}  // namespace

Transfer* TransferTable::Live(uint32_t index, uint32_t generation) {
  if (index >= slots_.size()) return nullptr;
  Transfer& t = slots_[index];
  return t.live() && t.generation == generation ? &t : nullptr;
}

std::optional<uint32_t> TransferTable::ByPeer(
    const io::SocketAddress& key) const {
  auto it = by_peer_.find(key);
  if (it == by_peer_.end()) return std::nullopt;
  return it->second;
}

uint32_t TransferTable::Open(const io::SocketAddress& key,
                             TransferPhase phase) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    slots_.emplace_back();
    index = static_cast<uint32_t>(slots_.size() - 1);
  }
  MoveTo(index, phase);
  slots_[index].key = key;
  by_peer_[key] = index;
  slots_[index].open_position = static_cast<uint32_t>(open_list_.size());
  open_list_.push_back(index);
  if (opened_.size() >= 2 * slots_.size() + 16) {
    std::erase_if(opened_, [this](const std::pair<uint32_t, uint32_t>& e) {
      return !Unanswered(e);
    });
  }
  opened_.emplace_back(index, slots_[index].generation);
  return index;
}

bool TransferTable::Unanswered(
    const std::pair<uint32_t, uint32_t>& entry) const {
  const Transfer& t = slots_[entry.first];
  return t.live() && t.generation == entry.second && !t.peer_answered;
}

std::optional<uint32_t> TransferTable::OldestUnanswered(
    std::optional<uint32_t> except) {
  while (!opened_.empty() && !Unanswered(opened_.front())) opened_.pop_front();
  for (const std::pair<uint32_t, uint32_t>& entry : opened_) {
    if (entry.first != except && Unanswered(entry)) return entry.first;
  }
  return std::nullopt;
}

void TransferTable::MoveTo(uint32_t index, TransferPhase phase) {
  Transfer& t = slots_[index];
  CheckTransition(t.phase, phase);
  t.phase = phase;
}

void TransferTable::End(uint32_t index) {
  Transfer& t = slots_[index];
  by_peer_.erase(t.key);
  // Out of the open list: the last open transfer takes its position.
  const uint32_t last = open_list_.back();
  open_list_[t.open_position] = last;
  slots_[last].open_position = t.open_position;
  open_list_.pop_back();
  t.open_position = kNoTransferLink;
  MoveTo(index, TransferPhase::kEnded);
}

void TransferTable::Recycle(uint32_t index) {
  Transfer& t = slots_[index];
  CheckTransition(t.phase, TransferPhase::kFree);
  assert(t.inflight == 0 && !t.in_ready);
  const uint32_t next_generation = t.generation + 1;
  t = Transfer();
  t.generation = next_generation;
  free_.push_back(index);
}

}  // namespace tftpd
