// taso gloo-shim: stand-in for Gloo's header of the same name (see ../README.md).
//
// c10d holds gloo::Context only through std::shared_ptr. It has to be a complete class here
// because the inline ProcessGroupGloo::setTimeout calls Context::setTimeout; that member is
// declared and never defined here, and taso-dist never calls ProcessGroupGloo::setTimeout.
#pragma once

#include <chrono>

namespace gloo {

class Context {
 public:
  Context() = delete;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  void setTimeout(std::chrono::milliseconds timeout);
};

} // namespace gloo
