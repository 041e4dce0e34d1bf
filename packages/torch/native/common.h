// Shared declarations of the @adaseg/torch addon.
// The addon stays thin: TypeScript validates and shapes arguments, each entry here makes one
// libtorch call, and every libtorch exception becomes a JS TorchError carrying the op name.
#pragma once

#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace adaseg {

// Per-environment state (Node worker threads each get their own).
struct AddonState {
  Napi::FunctionReference tensorClass;
  Napi::FunctionReference errorClass;  // the TS TorchError, registered at load time
  std::vector<c10::OperatorHandle> ops;
  // Live handles and the distinct storages they hold, so that views are not counted twice.
  int64_t liveTensors = 0;
  int64_t liveBytes = 0;
  std::unordered_map<const void*, std::pair<int64_t, int64_t>> storages;  // impl -> (handles, bytes)
  std::vector<std::unique_ptr<c10::InferenceMode>> inferenceGuards;
};

AddonState& State(Napi::Env env);

// Throws a JS TorchError (or a plain Error before one is registered) naming the op.
[[noreturn]] void ThrowTorchError(Napi::Env env, const std::string& op, const std::string& message);
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& op, const std::string& message);

// Runs body, turning C++ exceptions into JS errors naming op.
Napi::Value Guarded(Napi::Env env, const char* op, const std::function<Napi::Value()>& body);

// The JS-visible handle around one at::Tensor.
class NativeTensor : public Napi::ObjectWrap<NativeTensor> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Makes a new JS handle owning t.
  static Napi::Object Wrap(Napi::Env env, at::Tensor t);
  // Returns the tensor behind a JS handle, or throws naming op and the argument.
  static at::Tensor& FromJs(Napi::Env env, const Napi::Value& value, const std::string& op,
                            const std::string& what);
  static bool IsNativeTensor(Napi::Env env, const Napi::Value& value);

  explicit NativeTensor(const Napi::CallbackInfo& info);
  ~NativeTensor() override;

  at::Tensor tensor;

 private:
  void Release(Napi::Env env);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Strides(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);
  Napi::Value Defined(const Napi::CallbackInfo& info);
  Napi::Value IsContiguous(const Napi::CallbackInfo& info);
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value SetGrad(const Napi::CallbackInfo& info);
  Napi::Value IsLeaf(const Napi::CallbackInfo& info);
  Napi::Value GradFnName(const Napi::CallbackInfo& info);
  Napi::Value ToBuffer(const Napi::CallbackInfo& info);
  Napi::Value Item(const Napi::CallbackInfo& info);
  Napi::Value SameStorage(const Napi::CallbackInfo& info);
  Napi::Value SameTensor(const Napi::CallbackInfo& info);

  bool live_ = false;
  const void* storageKey_ = nullptr;
};

// dtype names shared with TypeScript.
at::ScalarType ParseDtype(Napi::Env env, const std::string& name, const std::string& op);
std::string DtypeName(at::ScalarType type);

void InitDispatch(Napi::Env env, Napi::Object exports);
// Installs the caching CPU allocator (once per process) and exports emptyCache/cpuAllocatorStats.
void InitAllocator(Napi::Env env, Napi::Object exports);

}  // namespace adaseg
