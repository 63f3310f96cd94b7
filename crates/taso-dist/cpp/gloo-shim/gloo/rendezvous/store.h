// taso gloo-shim: stand-in for Gloo's header of the same name (see ../../README.md).
//
// c10d's GlooStore (an adapter from a c10d::Store to Gloo's rendezvous store) derives from
// gloo::rendezvous::Store and overrides these four methods, so they must exist and be virtual.
// GlooStore is built inside libtorch_cpu.so, never by taso-dist, so the virtual table declared
// here is never emitted nor used. GLOO_STORE_HAS_STORE_V2 is deliberately left undefined: it
// would only add more overrides to GlooStore's inline definition.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace gloo {
namespace rendezvous {

class Store {
 public:
  virtual ~Store() = default;

  virtual void set(const std::string& key, const std::vector<char>& data) = 0;

  virtual std::vector<char> get(const std::string& key) = 0;

  virtual void wait(const std::vector<std::string>& keys) = 0;

  virtual void wait(
      const std::vector<std::string>& keys,
      const std::chrono::milliseconds& timeout) = 0;
};

} // namespace rendezvous
} // namespace gloo
