// gRPC's length-prefixed message framing (ctl/wire/message_framing.h) on its own: the prefix the
// client writes, and the deframer fed a stream in chunks of every size, at its limit, and cut
// short.
#include "ctl/wire/message_framing.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace wire = bim::ctl::wire;

namespace {

std::string Prefix(uint32_t length, uint8_t flag = 0) {
  std::string out(wire::kMessagePrefixBytes, '\0');
  wire::EncodeMessagePrefix(length, out.data());
  out[0] = static_cast<char>(flag);
  return out;
}

std::string Framed(const std::string& message) {
  return Prefix(static_cast<uint32_t>(message.size())) + message;
}

// Bytes that differ from message to message and from place to place within one.
std::string Message(size_t size, int seed) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed * 17) >> 3);
  return out;
}

std::vector<std::string> PopAll(wire::MessageDeframer& deframer) {
  std::vector<std::string> out;
  while (!deframer.empty()) out.push_back(deframer.Pop());
  return out;
}

}  // namespace

TEST_CASE("EncodeMessagePrefix writes a clear compressed flag and the length big-endian") {
  CHECK(Prefix(0) == std::string(5, '\0'));
  CHECK(Prefix(0x01020304) == std::string("\x00\x01\x02\x03\x04", 5));
  CHECK(Prefix(0xffffffff) == std::string("\x00\xff\xff\xff\xff", 5));
}

TEST_CASE("MessageDeframer returns the same messages however the stream is cut into chunks") {
  // Empty, tiny, and long enough for every byte of the length to matter.
  const std::vector<std::string> messages = {"", "a",          Message(300, 1), Message(70'000, 2),
                                             "", Message(5, 3)};
  std::string stream;
  for (const auto& m : messages) stream += Framed(m);

  auto feed_in_chunks = [&](auto next_chunk_size) {
    wire::MessageDeframer deframer(1 << 20);
    bool fed = true;
    for (size_t at = 0; at < stream.size();) {
      size_t n = std::min(next_chunk_size(), stream.size() - at);
      fed = deframer.Feed(std::string_view(stream).substr(at, n)) && fed;
      at += n;
    }
    CHECK(fed);
    CHECK_FALSE(deframer.mid_message());
    return PopAll(deframer);
  };
  SUBCASE("all at once") {
    CHECK(feed_in_chunks([] { return size_t{1} << 30; }) == messages);
  }
  SUBCASE("byte by byte") {
    CHECK(feed_in_chunks([] { return size_t{1}; }) == messages);
  }
  SUBCASE("in random chunks") {
    for (unsigned seed = 1; seed <= 20; ++seed) {
      CAPTURE(seed);
      std::mt19937 random(seed);
      std::uniform_int_distribution<size_t> size(1, seed % 2 ? 7 : 20'000);
      CHECK(feed_in_chunks([&] { return size(random); }) == messages);
    }
  }
}

TEST_CASE("MessageDeframer takes a message of exactly its limit and refuses one byte more") {
  wire::MessageDeframer deframer(10);
  REQUIRE(deframer.Feed(Framed("0123456789")));
  // Refused on its prefix alone: nothing of it is buffered, whatever it announces.
  CHECK_FALSE(deframer.Feed(Prefix(11)));
  CHECK(deframer.failure().code == wire::Code::kResourceExhausted);
  CHECK(deframer.failure().message.find("(11 vs. 10 bytes)") != std::string::npos);
  CHECK(PopAll(deframer) == std::vector<std::string>{"0123456789"});

  wire::MessageDeframer huge(4 * 1024 * 1024);
  CHECK_FALSE(huge.Feed(Prefix(0xffffffff)));
  CHECK(huge.failure().code == wire::Code::kResourceExhausted);
}

TEST_CASE("MessageDeframer refuses a compressed message, then takes nothing more") {
  wire::MessageDeframer deframer(100);
  CHECK_FALSE(deframer.Feed(Prefix(1, 1) + "x"));
  CHECK(deframer.failure().code == wire::Code::kInternal);
  CHECK(deframer.failure().message.find("compressed") != std::string::npos);
  CHECK_FALSE(deframer.Feed(Framed("fine")));
  CHECK(deframer.failure().code == wire::Code::kInternal);
  CHECK(deframer.empty());
}

TEST_CASE("MessageDeframer knows when a stream would end inside a message or its prefix") {
  wire::MessageDeframer deframer(100);
  CHECK_FALSE(deframer.mid_message());
  const std::string framed = Framed("hello");
  REQUIRE(deframer.Feed(framed.substr(0, 3)));  // part of the prefix
  CHECK(deframer.mid_message());
  REQUIRE(deframer.Feed(framed.substr(3, 4)));  // the rest of it and part of the message
  CHECK(deframer.mid_message());
  CHECK(deframer.empty());
  REQUIRE(deframer.Feed(framed.substr(7)));
  CHECK_FALSE(deframer.mid_message());
  CHECK(deframer.size() == 1);
  // An empty message is whole as soon as its prefix is.
  REQUIRE(deframer.Feed(Prefix(0)));
  CHECK_FALSE(deframer.mid_message());
  CHECK(PopAll(deframer) == std::vector<std::string>{"hello", ""});
}

TEST_CASE("MessageDeframer gives messages oldest first, and Clear drops those not taken") {
  wire::MessageDeframer deframer(100);
  REQUIRE(deframer.Feed(Framed("1") + Framed("2") + Framed("3")));
  CHECK(deframer.size() == 3);
  CHECK(deframer.Pop() == "1");
  CHECK(deframer.size() == 2);
  deframer.Clear();
  CHECK(deframer.empty());
  CHECK(deframer.size() == 0);
  REQUIRE(deframer.Feed(Framed("4")));
  CHECK(PopAll(deframer) == std::vector<std::string>{"4"});
}
