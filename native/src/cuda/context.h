// What the CUDA backend's calls share: one stream and grow-only buffers (a device arena and pinned host
// staging), guarded by one mutex (calls are serialised), the error mapping, and the staging plan that lets
// every array argument be either host memory (staged through pinned memory, one upload and one download
// per call) or device memory (a DeviceBuffer: used in place, nothing copied).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "fuseloss/status.h"

namespace fuseloss {
namespace cuda {

Status cuda_error(cudaError_t e, const char* what);

#define FUSELOSS_CUDA_TRY(expr, what)                       \
  do {                                                      \
    cudaError_t err_ = (expr);                              \
    if (err_ != cudaSuccess) return cuda_error(err_, what); \
  } while (0)

struct Context {
  std::mutex mu;
  bool ready = false;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;  // around each call's kernels (kernel time, `lastKernelMs`)
  float last_kernel_ms = 0.f;
  char* device = nullptr;
  size_t device_bytes = 0;
  char* pinned = nullptr;
  size_t pinned_bytes = 0;
  // DeviceBuffers freed while a call held `mu` (a finalizer or dispose() on the main thread must not wait
  // for a running call): freed by whoever releases `mu` next.
  std::mutex free_mu;
  std::vector<void*> to_free;
  Status init();
  Status reserve(size_t bytes);
  void drain_frees();
};

Context& context();

// Holds the context's mutex; on release, frees the DeviceBuffers whose free was deferred meanwhile.
class Lock {
 public:
  explicit Lock(Context& cx) : cx_(cx), lock_(cx.mu) {}
  ~Lock() { cx_.drain_frees(); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  Context& cx_;
  std::unique_lock<std::mutex> lock_;
};

inline size_t align256(size_t b) { return (b + 255) & ~size_t(255); }

// Whether p points into device memory (a DeviceBuffer); false for host memory and null.
bool on_device(const void* p);

// The arena of one call. Register every host input first (input()), then device-only scratch (scratch()),
// then host outputs (output()): inputs go up in one copy, outputs come down in one copy. A pointer already
// on the device gets no slot (kResident) and is used as it is.
class Staging {
 public:
  static constexpr size_t kResident = ~size_t(0);
  size_t input(const void* host, size_t bytes) {
    if (!host || !bytes || on_device(host)) return kResident;
    ins_.push_back({const_cast<void*>(host), bytes, take(bytes)});
    upload_end_ = off_;
    return ins_.back().at;
  }
  // A host array that is read and written (accumulation): uploaded with the inputs, brought back with the
  // outputs. Register it among the inputs.
  size_t inout(void* host, size_t bytes) {
    const size_t at = input(host, bytes);
    if (at != kResident) back_.push_back({host, bytes, at});
    return at;
  }
  size_t scratch(size_t bytes) { return take(bytes); }
  size_t output(void* host, size_t bytes) {
    if (!host || !bytes || on_device(host)) return kResident;
    if (outs_.empty()) download_begin_ = off_;
    outs_.push_back({host, bytes, take(bytes)});
    return outs_.back().at;
  }
  size_t total() const { return off_; }
  // Resolves a pointer: the arena's copy of a staged array, or the caller's device pointer.
  template <class T>
  T* at(Context& cx, T* original, size_t slot) const {
    return slot == kResident ? original : reinterpret_cast<T*>(cx.device + slot);
  }
  // Holding cx.mu, after cx.reserve(total()): host inputs → pinned → device (one copy on the stream).
  Status upload(Context& cx) const {
    if (ins_.empty()) return Status::ok();
    for (const Slot& s : ins_) std::memcpy(cx.pinned + s.at, s.host, s.bytes);
    FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.device, cx.pinned, upload_end_, cudaMemcpyHostToDevice, cx.stream),
                      "copying inputs to the device");
    return Status::ok();
  }
  // Device → pinned (one copy) and a wait on the stream; then finish_download() copies into the outputs.
  Status download(Context& cx) const {
    if (!outs_.empty())
      FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.pinned + download_begin_, cx.device + download_begin_, off_ - download_begin_,
                                        cudaMemcpyDeviceToHost, cx.stream),
                        "copying results from the device");
    for (const Slot& s : back_)
      FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.pinned + s.at, cx.device + s.at, s.bytes, cudaMemcpyDeviceToHost, cx.stream),
                        "copying results from the device");
    FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "running the kernels");
    for (const Slot& s : outs_) std::memcpy(s.host, cx.pinned + s.at, s.bytes);
    for (const Slot& s : back_) std::memcpy(s.host, cx.pinned + s.at, s.bytes);
    return Status::ok();
  }

 private:
  struct Slot {
    void* host;
    size_t bytes, at;
  };
  size_t take(size_t bytes) {
    const size_t at = off_;
    off_ = align256(off_ + bytes);
    return at;
  }
  std::vector<Slot> ins_, outs_, back_;
  size_t off_ = 0, upload_end_ = 0, download_begin_ = 0;
};

// Small device-resident arrays the host-side checks read (class ids, class weights), mirrored to host
// memory: the CPU driver's checks then run unchanged, with its messages, before anything is written.
Status mirror_to_host(const void* device, size_t bytes, std::vector<char>* store, const void** host);

// The first index of x[0, n) outside [0, 1] (NaN included), or -1, and its value; device memory, on the stream.
Status device_first_outside_unit(Context& cx, const float* x, int64_t n, int64_t* index, float* value);

// Kernels of the call epilogues, on the stream: the sum of v[0, n) in a fixed order (one block), float64 →
// float32, and g = float(double(g)·w) (the CPU's rescale).
void launch_sum(const double* v, int64_t n, double* out, cudaStream_t stream);
void launch_to_f32(const double* v, int64_t n, float* out, cudaStream_t stream);
void launch_rescale(float* g, int64_t n, double w, cudaStream_t stream);

// Kernel time of a call: events recorded around its kernels (not its copies).
inline Status mark_start(Context& cx) {
  FUSELOSS_CUDA_TRY(cudaEventRecord(cx.start, cx.stream), "recording an event");
  return Status::ok();
}
inline Status mark_stop(Context& cx) {
  FUSELOSS_CUDA_TRY(cudaEventRecord(cx.stop, cx.stream), "recording an event");
  return Status::ok();
}
// After the stream synchronised.
inline void read_kernel_time(Context& cx) {
  float ms = 0.f;
  if (cudaEventElapsedTime(&ms, cx.start, cx.stop) == cudaSuccess) cx.last_kernel_ms = ms;
}

// One call on the stream, holding the context: place the arena (sg.total() bytes), `place(cx)` (pointers that
// depend on the arena, before the upload), upload, `launch(cx)` between the kernel-time events, then the
// download and the wait.
template <class Place, class Launch>
Status run_staged(const Staging& sg, Place place, Launch launch) {
  Context& cx = context();
  Lock lock(cx);
  Status st = cx.init();
  if (!st.is_ok()) return st;
  if (!(st = cx.reserve(sg.total())).is_ok()) return st;
  place(cx);
  if (!(st = sg.upload(cx)).is_ok()) return st;
  if (!(st = mark_start(cx)).is_ok()) return st;
  launch(cx);
  FUSELOSS_CUDA_TRY(cudaGetLastError(), "launching the kernels");
  if (!(st = mark_stop(cx)).is_ok()) return st;
  if (!(st = sg.download(cx)).is_ok()) return st;
  read_kernel_time(cx);
  return Status::ok();
}
template <class Launch>
Status run_staged(const Staging& sg, Launch launch) {
  return run_staged(
      sg, [](Context&) {}, launch);
}

}  // namespace cuda
}  // namespace fuseloss
