// The CUDA backend's runtime: the shared context (stream, arena, pinned staging, events), device queries,
// device memory (DeviceBuffer), the checks run on device-resident data, and the epilogue kernels.
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <string>

#include "context.h"
#include "fuseloss/cuda.h"

namespace fuseloss {
namespace cuda {

Status cuda_error(cudaError_t e, const char* what) {
  cudaGetLastError();  // a failed call leaves its error behind for the next launch check; sticky errors stay
  if (e == cudaErrorMemoryAllocation) return Status::internal(std::string("CUDA: out of memory ") + what);
  return Status::internal(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}

Status Context::init() {
  if (ready) return Status::ok();
  FUSELOSS_CUDA_TRY(cudaSetDevice(0), "selecting device 0");
  FUSELOSS_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "creating a stream");
  FUSELOSS_CUDA_TRY(cudaEventCreate(&start), "creating an event");
  FUSELOSS_CUDA_TRY(cudaEventCreate(&stop), "creating an event");
  ready = true;
  return Status::ok();
}

Status Context::reserve(size_t bytes) {
  if (bytes > device_bytes) {
    if (device) cudaFree(device);
    device = nullptr, device_bytes = 0;
    FUSELOSS_CUDA_TRY(cudaMalloc(&device, bytes), ("allocating " + std::to_string(bytes) + " bytes on the device").c_str());
    device_bytes = bytes;
  }
  if (bytes > pinned_bytes) {
    if (pinned) cudaFreeHost(pinned);
    pinned = nullptr, pinned_bytes = 0;
    FUSELOSS_CUDA_TRY(cudaMallocHost(&pinned, bytes), ("allocating " + std::to_string(bytes) + " bytes of pinned host memory").c_str());
    pinned_bytes = bytes;
  }
  return Status::ok();
}

Context& context() {
  static Context* c = new Context();  // never destroyed: the driver may be gone at process exit
  return *c;
}

Status devices(std::vector<DeviceInfo>* out) {
  out->clear();
  int count = 0;
  FUSELOSS_CUDA_TRY(cudaGetDeviceCount(&count), "counting devices");
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p;
    FUSELOSS_CUDA_TRY(cudaGetDeviceProperties(&p, i), "reading device properties");
    out->push_back({i, p.name, uint64_t(p.totalGlobalMem), p.major, p.minor, p.multiProcessorCount});
  }
  if (count == 0) return Status::internal("CUDA: no device found");
  return Status::ok();
}

bool on_device(const void* p) {
  if (!p) return false;
  cudaPointerAttributes attr;
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();  // clear it: an unregistered host pointer is not an error
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

Status mirror_to_host(const void* device, size_t bytes, std::vector<char>* store, const void** host) {
  store->resize(bytes);
  Context& cx = context();
  Lock lock(cx);
  Status st = cx.init();
  if (!st.is_ok()) return st;
  FUSELOSS_CUDA_TRY(cudaMemcpyAsync(store->data(), device, bytes, cudaMemcpyDeviceToHost, cx.stream), "reading a DeviceBuffer");
  FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "reading a DeviceBuffer");
  *host = store->data();
  return Status::ok();
}

namespace {

__global__ void first_outside_unit_kernel(const float* x, int64_t n, unsigned long long* first) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = x[i];
    if (!(v >= 0.0f && v <= 1.0f)) {
      atomicMin(first, (unsigned long long)i);
      return;  // later elements of this thread have larger indices
    }
  }
}

__global__ void sum_kernel(const double* v, int64_t n, double* out) {
  __shared__ double s[1024];
  // four independent partial sums per thread (loads in flight), added in a fixed order
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
  int64_t i = threadIdx.x;
  for (; i + 3 * 1024 < n; i += 4 * 1024) a0 += v[i], a1 += v[i + 1024], a2 += v[i + 2048], a3 += v[i + 3072];
  for (; i < n; i += 1024) a0 += v[i];
  s[threadIdx.x] = (a0 + a1) + (a2 + a3);
  __syncthreads();
  for (int k = 512; k > 0; k >>= 1) {
    if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = s[0];
}

__global__ void to_f32_kernel(const double* v, int64_t n, float* out) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = float(v[i]);
}

__global__ void rescale_kernel(float* g, int64_t n, double w) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) g[i] = float(double(g[i]) * w);
}

unsigned grid_for(int64_t n) {
  const int64_t b = (n + 255) / 256;
  return unsigned(b < 1 ? 1 : b > 4096 ? 4096 : b);
}

}  // namespace

Status device_first_outside_unit(Context& cx, const float* x, int64_t n, int64_t* index, float* value) {
  *index = -1;
  if (n == 0) return Status::ok();
  unsigned long long* d = nullptr;
  FUSELOSS_CUDA_TRY(cudaMallocAsync(reinterpret_cast<void**>(&d), 8, cx.stream), "allocating a flag");
  const unsigned long long none = ~0ull;
  unsigned long long first = none;
  cudaMemcpyAsync(d, &none, 8, cudaMemcpyHostToDevice, cx.stream);
  first_outside_unit_kernel<<<grid_for(n), 256, 0, cx.stream>>>(x, n, d);
  cudaMemcpyAsync(&first, d, 8, cudaMemcpyDeviceToHost, cx.stream);
  cudaFreeAsync(d, cx.stream);
  FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "checking the input");
  if (first != none) {
    *index = int64_t(first);
    FUSELOSS_CUDA_TRY(cudaMemcpy(value, x + first, 4, cudaMemcpyDeviceToHost), "reading the input");
  }
  return Status::ok();
}

void launch_sum(const double* v, int64_t n, double* out, cudaStream_t stream) { sum_kernel<<<1, 1024, 0, stream>>>(v, n, out); }
void launch_to_f32(const double* v, int64_t n, float* out, cudaStream_t stream) {
  if (n > 0) to_f32_kernel<<<grid_for(n), 256, 0, stream>>>(v, n, out);
}
void launch_rescale(float* g, int64_t n, double w, cudaStream_t stream) {
  if (n > 0) rescale_kernel<<<grid_for(n), 256, 0, stream>>>(g, n, w);
}

// ---- DeviceBuffer memory: allocations of their own (not the arena), copies on the calls' stream, so they
// are ordered with the kernels of every call.

Status device_alloc(size_t bytes, void** out) {
  *out = nullptr;
  Context& cx = context();
  Lock lock(cx);
  Status st = cx.init();
  if (!st.is_ok()) return st;
  void* p = nullptr;
  FUSELOSS_CUDA_TRY(cudaMalloc(&p, bytes ? bytes : 1), ("allocating a DeviceBuffer of " + std::to_string(bytes) + " bytes").c_str());
  const cudaError_t e = cudaMemsetAsync(p, 0, bytes, cx.stream);
  if (e != cudaSuccess || (bytes && cudaStreamSynchronize(cx.stream) != cudaSuccess)) {
    cudaFree(p);
    return cuda_error(e != cudaSuccess ? e : cudaGetLastError(), "clearing a DeviceBuffer");
  }
  *out = p;
  return Status::ok();
}

void Context::drain_frees() {
  std::vector<void*> list;
  {
    std::lock_guard<std::mutex> g(free_mu);
    list.swap(to_free);
  }
  if (list.empty()) return;
  cudaStreamSynchronize(stream);
  for (void* p : list) cudaFree(p);
}

// Called on the main thread (dispose(), or the handle's finalizer): never waits for a running call. Nothing
// pending uses the memory (the TS layer holds a buffer until its async calls settle), so it is freed now
// when the context is free, else by the running call when it releases the context.
void device_free(void* p) {
  if (!p) return;
  Context& cx = context();
  std::unique_lock<std::mutex> l(cx.mu, std::try_to_lock);
  {
    std::lock_guard<std::mutex> g(cx.free_mu);
    cx.to_free.push_back(p);
  }
  if (l.owns_lock()) cx.drain_frees();
}

Status device_copy(void* dst, const void* src, size_t bytes, bool to_device) {
  if (!bytes) return Status::ok();
  Context& cx = context();
  Lock lock(cx);
  Status st = cx.init();
  if (!st.is_ok()) return st;
  // Through the pinned staging: an asynchronous copy on the stream, then the wait.
  if (!(st = cx.reserve(bytes)).is_ok()) return st;
  if (to_device) {
    std::memcpy(cx.pinned, src, bytes);
    FUSELOSS_CUDA_TRY(cudaMemcpyAsync(dst, cx.pinned, bytes, cudaMemcpyHostToDevice, cx.stream), "copying to a DeviceBuffer");
    FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "copying to a DeviceBuffer");
  } else {
    FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.pinned, src, bytes, cudaMemcpyDeviceToHost, cx.stream), "copying from a DeviceBuffer");
    FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "copying from a DeviceBuffer");
    std::memcpy(dst, cx.pinned, bytes);
  }
  return Status::ok();
}

Status device_copy_d2d(void* dst, const void* src, size_t bytes) {
  if (!bytes) return Status::ok();
  Context& cx = context();
  Lock lock(cx);
  Status st = cx.init();
  if (!st.is_ok()) return st;
  FUSELOSS_CUDA_TRY(mark_start(cx).is_ok() ? cudaSuccess : cudaErrorUnknown, "recording an event");
  FUSELOSS_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cx.stream), "copying between DeviceBuffers");
  FUSELOSS_CUDA_TRY(mark_stop(cx).is_ok() ? cudaSuccess : cudaErrorUnknown, "recording an event");
  FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "copying between DeviceBuffers");
  read_kernel_time(cx);
  return Status::ok();
}

Status device_zero(void* dst, size_t bytes) {
  if (!bytes) return Status::ok();
  Context& cx = context();
  Lock lock(cx);
  Status st = cx.init();
  if (!st.is_ok()) return st;
  FUSELOSS_CUDA_TRY(cudaMemsetAsync(dst, 0, bytes, cx.stream), "clearing a DeviceBuffer");
  FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "clearing a DeviceBuffer");
  return Status::ok();
}

float last_kernel_ms() {
  Context& cx = context();
  Lock lock(cx);
  return cx.last_kernel_ms;
}

}  // namespace cuda
}  // namespace fuseloss
