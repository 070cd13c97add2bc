#pragma once
// A random source behind an interface, so jitter and ids are reproducible in tests.

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace bim {

class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1).
  virtual double Uniform() = 0;
  virtual uint64_t Next64() = 0;
};

// Thread-safe, seeded from std::random_device unless given a seed.
class StdRandom final : public Random {
 public:
  StdRandom() : gen_(std::random_device{}()) {}
  explicit StdRandom(uint64_t seed) : gen_(seed) {}
  double Uniform() override {
    std::lock_guard lock(mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen_);
  }
  uint64_t Next64() override {
    std::lock_guard lock(mu_);
    return gen_();
  }

 private:
  std::mutex mu_;
  std::mt19937_64 gen_;  // guarded by mu_
};

// A random version-4 UUID, e.g. for deployment ids and Idempotency-Keys.
std::string NewUuid(Random& random);

}  // namespace bim
