// Module entry of the @adaseg/torch addon: state, errors, tensor creation from JS memory,
// autograd, random seeding, threads, grad/inference modes and memory accounting.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <cstring>

#include "common.h"

#ifndef ADASEG_HAS_CUDA
#define ADASEG_HAS_CUDA 0
#endif
#ifndef ADASEG_LIBTORCH_RECORD
#define ADASEG_LIBTORCH_RECORD ""
#endif

namespace adaseg {

AddonState& State(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

void ThrowTorchError(Napi::Env env, const std::string& op, const std::string& message) {
  AddonState* state = env.GetInstanceData<AddonState>();
  if (state != nullptr && !state->errorClass.IsEmpty()) {
    Napi::Object err = state->errorClass.New({Napi::String::New(env, message), Napi::String::New(env, op)});
    throw Napi::Error(env, err);
  }
  throw Napi::Error::New(env, op + ": " + message);
}

void ThrowTypeError(Napi::Env env, const std::string& op, const std::string& message) {
  Napi::TypeError err = Napi::TypeError::New(env, op + ": " + message);
  err.Set("op", Napi::String::New(env, op));
  throw err;
}

Napi::Value Guarded(Napi::Env env, const char* op, const std::function<Napi::Value()>& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    ThrowTorchError(env, op, e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    ThrowTorchError(env, op, "out of memory");
  } catch (const std::exception& e) {
    ThrowTorchError(env, op, e.what());
  }
}

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowTypeError(info.Env(), "setErrorClass", "expected a class");
  State(info.Env()).errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// fromBuffer(arrayBufferView, shape, dtype, device?) copies JS memory into a new tensor.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "tensor";
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsArray() || !info[2].IsString()) {
    ThrowTypeError(env, op, "expected (typedArray, shape, dtype)");
  }
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  Napi::Array shapeArray = info[1].As<Napi::Array>();
  std::vector<int64_t> shape;
  int64_t numel = 1;
  for (uint32_t i = 0; i < shapeArray.Length(); i++) {
    Napi::Value d = shapeArray.Get(i);
    if (!d.IsNumber()) ThrowTypeError(env, op, "shape entries must be integers");
    double v = d.As<Napi::Number>().DoubleValue();
    if (!(v >= 0) || std::floor(v) != v) ThrowTypeError(env, op, "shape entries must be non-negative integers");
    shape.push_back(static_cast<int64_t>(v));
    numel *= shape.back();
  }
  at::ScalarType dtype = ParseDtype(env, info[2].As<Napi::String>().Utf8Value(), op);
  size_t elementSize = c10::elementSize(dtype);
  size_t byteLength = view.ByteLength();
  if (static_cast<size_t>(numel) * elementSize != byteLength) {
    ThrowTypeError(env, op, "data holds " + std::to_string(byteLength) + " bytes but shape and dtype need " +
                                std::to_string(static_cast<size_t>(numel) * elementSize));
  }
  uint8_t* data = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  return Guarded(env, op, [&]() -> Napi::Value {
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (byteLength > 0) std::memcpy(t.data_ptr(), data, byteLength);
    if (info.Length() > 3 && info[3].IsString()) {
      std::string device = info[3].As<Napi::String>().Utf8Value();
      if (device != "cpu") t = t.to(c10::Device(device));
    }
    return NativeTensor::Wrap(env, t);
  });
}

std::vector<at::Tensor> TensorList(Napi::Env env, const Napi::Value& v, const char* op, const char* what,
                                   bool allowNull) {
  if (!v.IsArray()) ThrowTypeError(env, op, std::string(what) + " must be an array of tensors");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value item = a.Get(i);
    if (allowNull && (item.IsNull() || item.IsUndefined())) {
      out.emplace_back();
    } else {
      out.push_back(NativeTensor::FromJs(env, item, op, std::string(what) + "[" + std::to_string(i) + "]"));
    }
  }
  return out;
}

// backward(tensors, grads|null[], retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "backward";
  std::vector<at::Tensor> tensors = TensorList(env, info[0], op, "tensors", false);
  std::vector<at::Tensor> grads = TensorList(env, info[1], op, "grads", true);
  bool retain = info.Length() > 2 && info[2].ToBoolean().Value();
  bool create = info.Length() > 3 && info[3].ToBoolean().Value();
  return Guarded(env, op, [&]() -> Napi::Value {
    torch::autograd::backward(tensors, grads, retain || create, create);
    return env.Undefined();
  });
}

// grad(outputs, inputs, gradOutputs|null[], retainGraph, createGraph, allowUnused) -> (Tensor|null)[]
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "autograd.grad";
  std::vector<at::Tensor> outputs = TensorList(env, info[0], op, "outputs", false);
  std::vector<at::Tensor> inputs = TensorList(env, info[1], op, "inputs", false);
  std::vector<at::Tensor> gradOutputs = TensorList(env, info[2], op, "gradOutputs", true);
  bool create = info.Length() > 4 && info[4].ToBoolean().Value();
  c10::optional<bool> retain;
  if (info.Length() > 3 && info[3].IsBoolean()) retain = info[3].As<Napi::Boolean>().Value();
  bool allowUnused = info.Length() > 5 && info[5].ToBoolean().Value();
  return Guarded(env, op, [&]() -> Napi::Value {
    auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, create, allowUnused);
    Napi::Array out = Napi::Array::New(env, grads.size());
    for (size_t i = 0; i < grads.size(); i++) {
      out.Set(i, grads[i].defined() ? Napi::Value(NativeTensor::Wrap(env, grads[i])) : env.Null());
    }
    return out;
  });
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowTypeError(env, "manualSeed", "seed must be an integer");
  double seed = info[0].As<Napi::Number>().DoubleValue();
  if (!(seed >= 0) || std::floor(seed) != seed || seed > 18446744073709551615.0) {
    ThrowTypeError(env, "manualSeed", "seed must be a non-negative integer");
  }
  return Guarded(env, "manualSeed", [&]() -> Napi::Value {
    // Same entry as torch.manual_seed: seeds the default CPU generator (and CUDA's where present).
    at::manual_seed(static_cast<uint64_t>(seed));
    return env.Undefined();
  });
}

// The default CPU generator's state as a uint8 tensor (torch.get_rng_state), for exact resumption.
Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, "getRngState", [&]() -> Napi::Value {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return NativeTensor::Wrap(env, gen.get_state());
  });
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& state = NativeTensor::FromJs(env, info[0], "setRngState", "the state");
  return Guarded(env, "setRngState", [&]() -> Napi::Value {
    TORCH_CHECK(state.scalar_type() == at::kByte && state.dim() == 1, "the state must be a 1-d uint8 tensor from getRngState");
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
    return env.Undefined();
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1) {
    ThrowTypeError(env, "setNumThreads", "threads must be a positive integer");
  }
  at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  c10::GradMode::set_enabled(info.Length() > 0 && info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// Inference mode is an RAII guard in C++; JS enters and leaves it around a synchronous function.
Napi::Value EnterInferenceMode(const Napi::CallbackInfo& info) {
  State(info.Env()).inferenceGuards.push_back(std::make_unique<c10::InferenceMode>(true));
  return info.Env().Undefined();
}

Napi::Value ExitInferenceMode(const Napi::CallbackInfo& info) {
  auto& guards = State(info.Env()).inferenceGuards;
  if (!guards.empty()) guards.pop_back();
  return info.Env().Undefined();
}

Napi::Value IsInferenceMode(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::InferenceMode::is_enabled());
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& state = State(env);
  Napi::Object out = Napi::Object::New(env);
  out.Set("tensors", Napi::Number::New(env, static_cast<double>(state.liveTensors)));
  out.Set("bytes", Napi::Number::New(env, static_cast<double>(state.liveBytes)));
  out.Set("storages", Napi::Number::New(env, static_cast<double>(state.storages.size())));
  return out;
}

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  bool available = false;
  try {
    available = at::hasCUDA();
  } catch (...) {
  }
  return Napi::Boolean::New(info.Env(), available);
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  out.Set("parallel", Napi::String::New(env, at::get_parallel_info()));
  out.Set("config", Napi::String::New(env, at::show_config()));
  out.Set("builtWithCuda", Napi::Boolean::New(env, ADASEG_HAS_CUDA != 0));
  out.Set("libtorchRecord", Napi::String::New(env, ADASEG_LIBTORCH_RECORD));
  return out;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonState>(new AddonState());
  InitAllocator(env, exports);  // first: before anything allocates a tensor
  NativeTensor::Init(env, exports);
  InitDispatch(env, exports);
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer, "fromBuffer"));
  exports.Set("backward", Napi::Function::New(env, Backward, "backward"));
  exports.Set("autogradGrad", Napi::Function::New(env, AutogradGrad, "autogradGrad"));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
  exports.Set("getRngState", Napi::Function::New(env, GetRngState, "getRngState"));
  exports.Set("setRngState", Napi::Function::New(env, SetRngState, "setRngState"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled, "setGradEnabled"));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled, "isGradEnabled"));
  exports.Set("enterInferenceMode", Napi::Function::New(env, EnterInferenceMode, "enterInferenceMode"));
  exports.Set("exitInferenceMode", Napi::Function::New(env, ExitInferenceMode, "exitInferenceMode"));
  exports.Set("isInferenceMode", Napi::Function::New(env, IsInferenceMode, "isInferenceMode"));
  exports.Set("memory", Napi::Function::New(env, Memory, "memory"));
  exports.Set("cudaIsAvailable", Napi::Function::New(env, CudaIsAvailable, "cudaIsAvailable"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  return exports;
}

}  // namespace adaseg

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return adaseg::Init(env, exports); }

NODE_API_MODULE(torch_native, InitModule)
