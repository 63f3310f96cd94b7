// taso gloo-shim: stand-in for Gloo's header of the same name (see ../../README.md).
//
// c10d holds these only as std::shared_ptr<Device> and std::unique_ptr<UnboundBuffer>; they
// stay incomplete so that nothing compiled against this shim can depend on their layout.
#pragma once

namespace gloo {
namespace transport {

class Device;
class UnboundBuffer;

} // namespace transport
} // namespace gloo
