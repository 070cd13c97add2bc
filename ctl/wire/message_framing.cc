#include "ctl/wire/message_framing.h"

#include <algorithm>
#include <utility>

#include "ctl/wire/text.h"

namespace bim::ctl::wire {
namespace {

// How much a message's buffer reserves up front: a bound on what a prefix alone can make us
// allocate; a larger message grows it as its bytes arrive.
constexpr size_t kMaxReserveBytes = 16 * 1024 * 1024;

}  // namespace

void EncodeMessagePrefix(uint32_t length, char* out) {
  out[0] = 0;
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((length >> (8 * (3 - i))) & 0xff);
}

bool MessageDeframer::Fail(Code code, std::string message) {
  failure_ = CallStatus{code, std::move(message)};
  return false;
}

bool MessageDeframer::Feed(std::string_view data) {
  if (!failure_.ok()) return false;
  while (!data.empty()) {
    if (!in_message_) {
      size_t take = std::min(kMessagePrefixBytes - prefix_size_, data.size());
      std::copy_n(data.begin(), take, prefix_ + prefix_size_);
      prefix_size_ += take;
      data.remove_prefix(take);
      if (prefix_size_ < kMessagePrefixBytes) return true;
      prefix_size_ = 0;
      message_size_ = (size_t{prefix_[1]} << 24) | (size_t{prefix_[2]} << 16) |
                      (size_t{prefix_[3]} << 8) | size_t{prefix_[4]};
      if (prefix_[0] != 0) {
        return Fail(Code::kInternal,
                    "the agent sent a compressed message, and no compression was negotiated");
      }
      if (message_size_ > max_message_bytes_) {
        return Fail(Code::kResourceExhausted, Cat({"received a message larger than the limit (",
                                                   std::to_string(message_size_), " vs. ",
                                                   std::to_string(max_message_bytes_), " bytes)"}));
      }
      in_message_ = true;
      message_.clear();
      message_.reserve(std::min(message_size_, kMaxReserveBytes));
    }
    size_t take = std::min(message_size_ - message_.size(), data.size());
    message_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (message_.size() == message_size_) {
      messages_.push_back(std::move(message_));
      message_ = std::string();
      in_message_ = false;
    }
  }
  return true;
}

std::string MessageDeframer::Pop() {
  std::string message = std::move(messages_[next_++]);
  if (next_ == messages_.size()) Clear();
  return message;
}

}  // namespace bim::ctl::wire
