// taso-dist's C++ bridge: a C ABI over c10d (PyTorch's distributed engine in libtorch_cpu.so).
//
// Every entry point catches every C++ exception and returns its message as a malloc'd string
// (freed with taso_dist_free_error), so that no exception ever unwinds into Rust. Tensors
// arrive as at::Tensor* (what torch-sys's C_tensor is on this side).
//
// ProcessGroupGloo.hpp needs a few Gloo headers that the torch wheel does not ship; the
// declarations in gloo-shim/ stand in for them (see gloo-shim/README.md for why that is safe).

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
};

char* copy_message(const std::string& message) {
  char* out = static_cast<char*>(std::malloc(message.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, message.c_str(), message.size() + 1);
  }
  return out;
}

// Runs `body`; on an exception stores its message in *err and returns false. c10::Error's
// what() carries a C++ backtrace; the message without it is what a user needs.
template <typename F>
bool guarded(char** err, F&& body) {
  try {
    body();
    return true;
  } catch (const c10::Error& e) {
    *err = copy_message(e.what_without_backtrace());
  } catch (const std::exception& e) {
    *err = copy_message(e.what());
  } catch (...) {
    *err = copy_message("unknown C++ exception");
  }
  return false;
}

// Gloo devices: 0 = the default device (this machine's hostname, else loopback), 1 = bound to
// the address `arg` resolves to, 2 = one device per comma-separated interface name in `arg`.
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(int kind, const char* arg) {
  using PG = c10d::ProcessGroupGloo;
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  switch (kind) {
    case 0:
      devices.push_back(PG::createDefaultDevice());
      break;
    case 1:
      devices.push_back(PG::createDeviceForHostname(arg));
      break;
    case 2: {
      std::string names(arg);
      size_t start = 0;
      while (start <= names.size()) {
        size_t end = names.find(',', start);
        if (end == std::string::npos) {
          end = names.size();
        }
        if (end > start) {
          devices.push_back(PG::createDeviceForInterface(names.substr(start, end - start)));
        }
        start = end + 1;
      }
      break;
    }
    default:
      TORCH_CHECK(false, "unknown Gloo device kind ", kind);
  }
  TORCH_CHECK(!devices.empty(), "no Gloo device (empty interface list)");
  return devices;
}

// Runs one collective on `tensor` in place: through a contiguous copy when it is not contiguous.
// Like the collectives themselves (which write to the tensor's memory), the copy back is not
// recorded by autograd, so that a parameter that requires grad can be broadcast too.
template <typename F>
void in_place(at::Tensor& tensor, F&& collective) {
  at::NoGradGuard no_grad;
  if (tensor.is_contiguous()) {
    std::vector<at::Tensor> tensors{tensor};
    collective(tensors);
  } else {
    std::vector<at::Tensor> tensors{tensor.contiguous()};
    collective(tensors);
    tensor.copy_(tensors[0]);
  }
}

} // namespace

extern "C" {

typedef struct Group taso_dist_group;

void taso_dist_free_error(char* err) {
  std::free(err);
}

// Rendezvous through a TCPStore at host:port (hosted by rank 0 unless `agent_store`, when the
// launcher already hosts it) and a Gloo process group over it. `prefix` namespaces the keys.
// Returns null and sets *err on failure.
taso_dist_group* taso_dist_new_gloo(
    const char* host,
    uint16_t port,
    int rank,
    int world_size,
    int64_t timeout_ms,
    bool agent_store,
    const char* prefix,
    int device_kind,
    const char* device_arg,
    char** err) {
  Group* group = nullptr;
  bool ok = guarded(err, [&] {
    const std::chrono::milliseconds timeout(timeout_ms);
    c10d::TCPStoreOptions opts;
    opts.port = port;
    opts.isServer = rank == 0 && !agent_store;
    opts.numWorkers = static_cast<size_t>(world_size);
    // Every rank counts itself in; rank 0 (when it hosts) then waits for all of them.
    opts.waitWorkers = true;
    opts.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> tcp = c10::make_intrusive<c10d::TCPStore>(host, opts);
    auto store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);

    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices = gloo_devices(device_kind, device_arg);
    auto backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
    group = new Group{store, backend, timeout};
  });
  return ok ? group : nullptr;
}

void taso_dist_free(taso_dist_group* group) {
  char* err = nullptr;
  // The destructor waits for queued work and joins Gloo's threads; it does not throw in
  // practice, but nothing may escape into Rust.
  if (!guarded(&err, [&] { delete group; })) {
    taso_dist_free_error(err);
  }
}

// All-reduce (sum) of one tensor in place.
bool taso_dist_all_reduce_sum(taso_dist_group* group, at::Tensor* tensor, char** err) {
  return guarded(err, [&] {
    in_place(*tensor, [&](std::vector<at::Tensor>& tensors) {
      c10d::AllreduceOptions opts;
      opts.reduceOp = c10d::ReduceOp::SUM;
      opts.timeout = group->timeout;
      group->backend->allreduce(tensors, opts)->wait(group->timeout);
    });
  });
}

// Broadcast of one tensor in place from rank `root`.
bool taso_dist_broadcast(taso_dist_group* group, at::Tensor* tensor, int root, char** err) {
  return guarded(err, [&] {
    in_place(*tensor, [&](std::vector<at::Tensor>& tensors) {
      c10d::BroadcastOptions opts;
      opts.rootRank = root;
      opts.rootTensor = 0;
      opts.timeout = group->timeout;
      group->backend->broadcast(tensors, opts)->wait(group->timeout);
    });
  });
}

bool taso_dist_barrier(taso_dist_group* group, char** err) {
  return guarded(err, [&] {
    c10d::BarrierOptions opts;
    opts.timeout = group->timeout;
    group->backend->barrier(opts)->wait(group->timeout);
  });
}

} // extern "C"
