// NativeTensor: one JS handle per at::Tensor, with accounting of live handles and bytes.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <cstring>

#include "common.h"

namespace adaseg {

namespace {

// A wrapped tensor is handed to the JS constructor through this slot: constructors run
// synchronously on the JS thread, so one slot per process is enough.
thread_local at::Tensor* pendingTensor = nullptr;

struct DtypeEntry {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
    {"int64", at::kLong},    {"int32", at::kInt},      {"int16", at::kShort},  {"int8", at::kChar},
    {"uint8", at::kByte},    {"bool", at::kBool},
};

}  // namespace

at::ScalarType ParseDtype(Napi::Env env, const std::string& name, const std::string& op) {
  for (const auto& entry : kDtypes) {
    if (name == entry.name) return entry.type;
  }
  ThrowTypeError(env, op, "unknown dtype '" + name +
                              "' (expected float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8 or bool)");
}

std::string DtypeName(at::ScalarType type) {
  for (const auto& entry : kDtypes) {
    if (type == entry.type) return entry.name;
  }
  return std::string(c10::toString(type));
}

void NativeTensor::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(
      env, "NativeTensor",
      {
          InstanceMethod<&NativeTensor::Dispose>("dispose"),
          InstanceMethod<&NativeTensor::IsDisposed>("isDisposed"),
          InstanceMethod<&NativeTensor::Shape>("shape"),
          InstanceMethod<&NativeTensor::Strides>("strides"),
          InstanceMethod<&NativeTensor::Dtype>("dtype"),
          InstanceMethod<&NativeTensor::Device>("device"),
          InstanceMethod<&NativeTensor::Numel>("numel"),
          InstanceMethod<&NativeTensor::Defined>("defined"),
          InstanceMethod<&NativeTensor::IsContiguous>("isContiguous"),
          InstanceMethod<&NativeTensor::RequiresGrad>("requiresGrad"),
          InstanceMethod<&NativeTensor::SetRequiresGrad>("setRequiresGrad"),
          InstanceMethod<&NativeTensor::Grad>("grad"),
          InstanceMethod<&NativeTensor::SetGrad>("setGrad"),
          InstanceMethod<&NativeTensor::IsLeaf>("isLeaf"),
          InstanceMethod<&NativeTensor::GradFnName>("gradFnName"),
          InstanceMethod<&NativeTensor::ToBuffer>("toBuffer"),
          InstanceMethod<&NativeTensor::Item>("item"),
          InstanceMethod<&NativeTensor::SameStorage>("sameStorage"),
          InstanceMethod<&NativeTensor::SameTensor>("sameTensor"),
      });
  State(env).tensorClass = Napi::Persistent(cls);
  exports.Set("NativeTensor", cls);
}

Napi::Object NativeTensor::Wrap(Napi::Env env, at::Tensor t) {
  pendingTensor = &t;
  Napi::Object obj = State(env).tensorClass.New({});
  pendingTensor = nullptr;
  return obj;
}

bool NativeTensor::IsNativeTensor(Napi::Env env, const Napi::Value& value) {
  return value.IsObject() && value.As<Napi::Object>().InstanceOf(State(env).tensorClass.Value());
}

at::Tensor& NativeTensor::FromJs(Napi::Env env, const Napi::Value& value, const std::string& op,
                                 const std::string& what) {
  if (!IsNativeTensor(env, value)) ThrowTypeError(env, op, what + " must be a Tensor");
  NativeTensor* self = NativeTensor::Unwrap(value.As<Napi::Object>());
  if (!self->live_) ThrowTorchError(env, op, what + " is a disposed tensor");
  return self->tensor;
}

NativeTensor::NativeTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTensor>(info) {
  Napi::Env env = info.Env();
  if (pendingTensor == nullptr) {
    ThrowTypeError(env, "NativeTensor", "tensors are created by torch functions, not by this constructor");
  }
  tensor = std::move(*pendingTensor);
  live_ = true;
  AddonState& state = State(env);
  state.liveTensors++;
  if (tensor.defined() && tensor.has_storage()) {
    storageKey_ = tensor.storage().unsafeGetStorageImpl();
    auto& entry = state.storages[storageKey_];
    if (entry.first++ == 0) {
      entry.second = static_cast<int64_t>(tensor.storage().nbytes());
      state.liveBytes += entry.second;
      // Only CPU memory is memory V8 should weigh when deciding to collect.
      if (tensor.is_cpu()) Napi::MemoryManagement::AdjustExternalMemory(env, entry.second);
    }
  }
}

void NativeTensor::Release(Napi::Env env) {
  if (!live_) return;
  live_ = false;
  AddonState& state = State(env);
  state.liveTensors--;
  if (storageKey_ != nullptr) {
    auto it = state.storages.find(storageKey_);
    if (it != state.storages.end() && --it->second.first == 0) {
      state.liveBytes -= it->second.second;
      if (tensor.is_cpu()) Napi::MemoryManagement::AdjustExternalMemory(env, -it->second.second);
      state.storages.erase(it);
    }
    storageKey_ = nullptr;
  }
  tensor = at::Tensor();
}

NativeTensor::~NativeTensor() {
  // The GC finaliser is only a safety net: scopes and dispose() free tensors deterministically.
  Release(Env());
}

Napi::Value NativeTensor::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Value NativeTensor::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !live_);
}

#define LIVE_TENSOR(op) at::Tensor& t = NativeTensor::FromJs(info.Env(), info.This(), op, "the tensor")

static Napi::Array IntArray(Napi::Env env, at::IntArrayRef values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); i++) out.Set(i, Napi::Number::New(env, static_cast<double>(values[i])));
  return out;
}

Napi::Value NativeTensor::Shape(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("shape");
  return IntArray(info.Env(), t.sizes());
}

Napi::Value NativeTensor::Strides(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("strides");
  return IntArray(info.Env(), t.strides());
}

Napi::Value NativeTensor::Dtype(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("dtype");
  return Napi::String::New(info.Env(), DtypeName(t.scalar_type()));
}

Napi::Value NativeTensor::Device(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("device");
  return Napi::String::New(info.Env(), t.device().str());
}

Napi::Value NativeTensor::Numel(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("numel");
  return Napi::Number::New(info.Env(), static_cast<double>(t.numel()));
}

Napi::Value NativeTensor::Defined(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("defined");
  return Napi::Boolean::New(info.Env(), t.defined());
}

Napi::Value NativeTensor::IsContiguous(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("isContiguous");
  std::string format = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  return Napi::Boolean::New(info.Env(), format == "channels_last" ? t.is_contiguous(at::MemoryFormat::ChannelsLast)
                                                                  : t.is_contiguous());
}

Napi::Value NativeTensor::RequiresGrad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("requiresGrad");
  return Napi::Boolean::New(info.Env(), t.requires_grad());
}

Napi::Value NativeTensor::SetRequiresGrad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("requiresGrad_");
  bool flag = info.Length() > 0 && info[0].ToBoolean().Value();
  return Guarded(info.Env(), "requiresGrad_", [&]() -> Napi::Value {
    t.set_requires_grad(flag);
    return info.Env().Undefined();
  });
}

Napi::Value NativeTensor::Grad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("grad");
  const at::Tensor& g = t.grad();
  if (!g.defined()) return info.Env().Null();
  return Wrap(info.Env(), g);
}

Napi::Value NativeTensor::SetGrad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("grad");
  Napi::Env env = info.Env();
  return Guarded(env, "setGrad", [&]() -> Napi::Value {
    if (info.Length() == 0 || info[0].IsNull() || info[0].IsUndefined()) {
      t.mutable_grad() = at::Tensor();
    } else {
      const at::Tensor& g = NativeTensor::FromJs(env, info[0], "setGrad", "the gradient");
      TORCH_CHECK(g.sizes() == t.sizes(), "gradient shape ", g.sizes(), " does not match the tensor's shape ",
                  t.sizes());
      TORCH_CHECK(g.scalar_type() == t.scalar_type(), "gradient dtype ", DtypeName(g.scalar_type()),
                  " does not match the tensor's dtype ", DtypeName(t.scalar_type()));
      TORCH_CHECK(g.device() == t.device(), "gradient device ", g.device(), " does not match the tensor's device ",
                  t.device());
      t.mutable_grad() = g;
    }
    return env.Undefined();
  });
}

Napi::Value NativeTensor::IsLeaf(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("isLeaf");
  return Napi::Boolean::New(info.Env(), t.is_leaf());
}

Napi::Value NativeTensor::GradFnName(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("gradFn");
  const auto& fn = t.grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

// Copies the tensor's values (on the CPU, contiguous) into a new ArrayBuffer.
Napi::Value NativeTensor::ToBuffer(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("toTypedArray");
  Napi::Env env = info.Env();
  return Guarded(env, "toTypedArray", [&]() -> Napi::Value {
    at::Tensor src = t.detach();
    if (!src.is_cpu()) src = src.to(at::kCPU);
    src = src.contiguous();
    size_t nbytes = src.numel() * src.element_size();
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, nbytes);
    if (nbytes > 0) std::memcpy(buffer.Data(), src.data_ptr(), nbytes);
    return buffer;
  });
}

Napi::Value NativeTensor::Item(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("item");
  Napi::Env env = info.Env();
  return Guarded(env, "item", [&]() -> Napi::Value {
    at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  });
}

Napi::Value NativeTensor::SameStorage(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("sameStorage");
  const at::Tensor& other = NativeTensor::FromJs(info.Env(), info[0], "sameStorage", "other");
  return Napi::Boolean::New(info.Env(), t.has_storage() && other.has_storage() && t.storage().is_alias_of(other.storage()));
}

Napi::Value NativeTensor::SameTensor(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("sameTensor");
  const at::Tensor& other = NativeTensor::FromJs(info.Env(), info[0], "sameTensor", "other");
  return Napi::Boolean::New(info.Env(), t.is_same(other));
}

}  // namespace adaseg
