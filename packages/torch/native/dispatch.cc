// Generic entry into ATen through the c10 dispatcher: an op is resolved once by its schema name
// ("aten::add.Tensor"), then called with JS arguments that are converted by the schema's types.
// One entry serves every ATen operator with libtorch's own kernels and autograd, the way
// TorchScript calls them, instead of thousands of hand-written wrappers.
#include "common.h"

namespace adaseg {

namespace {

std::string ArgLabel(const c10::FunctionSchema& schema, const c10::Argument& arg) {
  return "argument '" + arg.name() + "' of " + schema.name() +
         (schema.overload_name().empty() ? "" : "." + schema.overload_name());
}

int64_t ToInt(Napi::Env env, const Napi::Value& v, const std::string& op, const std::string& what) {
  if (!v.IsNumber()) ThrowTypeError(env, op, what + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0) {
    ThrowTypeError(env, op, what + " must be an integer, got " + v.ToString().Utf8Value());
  }
  return static_cast<int64_t>(d);
}

double ToDouble(Napi::Env env, const Napi::Value& v, const std::string& op, const std::string& what) {
  if (!v.IsNumber()) ThrowTypeError(env, op, what + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

at::Scalar ToScalar(Napi::Env env, const Napi::Value& v, const std::string& op, const std::string& what) {
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    // Integer-valued numbers become integer scalars so that integer tensors keep their dtype,
    // as Python's `t + 2` does; others are floating scalars.
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0) {
      return at::Scalar(static_cast<int64_t>(d));
    }
    return at::Scalar(d);
  }
  // {float: x} forces a floating scalar for integer values (Python's `2.0`).
  if (v.IsObject() && v.As<Napi::Object>().Has("float")) {
    return at::Scalar(ToDouble(env, v.As<Napi::Object>().Get("float"), op, what));
  }
  ThrowTypeError(env, op, what + " must be a number or a boolean");
}

std::vector<int64_t> ToIntList(Napi::Env env, const Napi::Value& v, const c10::Argument& arg, const std::string& op,
                               const std::string& what) {
  std::vector<int64_t> out;
  if (v.IsNumber()) {
    // Python accepts a single int for `int[2] stride` and similar fixed-size lists.
    int64_t n = arg.N() ? *arg.N() : 1;
    out.assign(n, ToInt(env, v, op, what));
    return out;
  }
  if (!v.IsArray()) ThrowTypeError(env, op, what + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    out.push_back(ToInt(env, a.Get(i), op, what + "[" + std::to_string(i) + "]"));
  }
  return out;
}

at::MemoryFormat ParseMemoryFormat(Napi::Env env, const std::string& name, const std::string& op) {
  if (name == "contiguous") return at::MemoryFormat::Contiguous;
  if (name == "channels_last") return at::MemoryFormat::ChannelsLast;
  if (name == "preserve") return at::MemoryFormat::Preserve;
  ThrowTypeError(env, op, "unknown memory format '" + name + "' (expected contiguous, channels_last or preserve)");
}

c10::IValue ToIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg,
                     const std::string& op, const std::string& what) {
  if (type->kind() == c10::TypeKind::OptionalType) {
    if (v.IsNull() || v.IsUndefined()) return c10::IValue();
    return ToIValue(env, v, type->castRaw<c10::OptionalType>()->getElementType(), arg, op, what);
  }
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return NativeTensor::FromJs(env, v, op, what);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return ToInt(env, v, op, what);
    case c10::TypeKind::FloatType:
      return ToDouble(env, v, op, what);
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) ThrowTypeError(env, op, what + " must be a boolean");
      return v.As<Napi::Boolean>().Value();
    case c10::TypeKind::NumberType:
      return ToScalar(env, v, op, what);
    case c10::TypeKind::StringType:
      if (!v.IsString()) ThrowTypeError(env, op, what + " must be a string");
      return v.As<Napi::String>().Utf8Value();
    case c10::TypeKind::ScalarTypeType:
      if (!v.IsString()) ThrowTypeError(env, op, what + " must be a dtype name");
      return ParseDtype(env, v.As<Napi::String>().Utf8Value(), op);
    case c10::TypeKind::MemoryFormatType:
      if (!v.IsString()) ThrowTypeError(env, op, what + " must be a memory format name");
      return ParseMemoryFormat(env, v.As<Napi::String>().Utf8Value(), op);
    case c10::TypeKind::LayoutType:
      return at::kStrided;
    case c10::TypeKind::DeviceObjType: {
      if (!v.IsString()) ThrowTypeError(env, op, what + " must be a device name");
      std::string name = v.As<Napi::String>().Utf8Value();
      try {
        return c10::Device(name);
      } catch (const c10::Error&) {
        ThrowTypeError(env, op, what + ": unknown device '" + name + "' (expected cpu, cuda or cuda:N)");
      }
    }
    case c10::TypeKind::ListType: {
      const c10::TypePtr& elem = type->castRaw<c10::ListType>()->getElementType();
      switch (elem->kind()) {
        case c10::TypeKind::IntType:
        case c10::TypeKind::SymIntType:
          return ToIntList(env, v, arg, op, what);
        case c10::TypeKind::FloatType: {
          if (!v.IsArray()) ThrowTypeError(env, op, what + " must be an array of numbers");
          Napi::Array a = v.As<Napi::Array>();
          std::vector<double> out;
          for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ToDouble(env, a.Get(i), op, what));
          return out;
        }
        case c10::TypeKind::BoolType: {
          if (!v.IsArray()) ThrowTypeError(env, op, what + " must be an array of booleans");
          Napi::Array a = v.As<Napi::Array>();
          c10::List<bool> out;
          for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).ToBoolean().Value());
          if (arg.N() && out.size() != static_cast<size_t>(*arg.N())) {
            ThrowTypeError(env, op, what + " must have " + std::to_string(*arg.N()) + " booleans");
          }
          // bool[N] arguments are std::array<bool, N> in kernels; the boxed form is a List<bool>.
          return out;
        }
        case c10::TypeKind::TensorType: {
          if (!v.IsArray()) ThrowTypeError(env, op, what + " must be an array of tensors");
          Napi::Array a = v.As<Napi::Array>();
          std::vector<at::Tensor> out;
          for (uint32_t i = 0; i < a.Length(); i++) {
            out.push_back(NativeTensor::FromJs(env, a.Get(i), op, what + "[" + std::to_string(i) + "]"));
          }
          return out;
        }
        case c10::TypeKind::OptionalType: {
          if (!v.IsArray()) ThrowTypeError(env, op, what + " must be an array of tensors or nulls");
          Napi::Array a = v.As<Napi::Array>();
          c10::List<c10::optional<at::Tensor>> out;
          for (uint32_t i = 0; i < a.Length(); i++) {
            Napi::Value item = a.Get(i);
            if (item.IsNull() || item.IsUndefined()) {
              out.push_back(c10::nullopt);
            } else {
              out.push_back(NativeTensor::FromJs(env, item, op, what + "[" + std::to_string(i) + "]"));
            }
          }
          return out;
        }
        default:
          break;
      }
      break;
    }
    case c10::TypeKind::GeneratorType:
      return c10::IValue();  // the default generator, seeded by manualSeed
    default:
      break;
  }
  ThrowTypeError(env, op, what + " has a type (" + type->str() + ") that @adaseg/torch does not pass yet");
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v, const std::vector<std::pair<at::Tensor, Napi::Value>>& inputs) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return env.Null();
    // In-place and out= ops return one of their inputs: hand back the caller's own handle.
    for (const auto& input : inputs) {
      if (input.first.is_same(t)) return input.second;
    }
    return NativeTensor::Wrap(env, t);
  }
  if (v.isNone()) return env.Undefined();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(i, FromIValue(env, c10::IValue(list.get(i)), inputs));
    return out;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(i, Napi::Number::New(env, static_cast<double>(list[i])));
    return out;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) out.Set(i, FromIValue(env, elems[i], inputs));
    return out;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(i, FromIValue(env, list[i], inputs));
    return out;
  }
  return env.Undefined();
}

// resolveOp("aten::add", "Tensor") -> id used by callOp.
Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    ThrowTypeError(env, "resolveOp", "expected (name, overload) strings");
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  std::string label = name + (overload.empty() ? "" : "." + overload);
  if (!handle) ThrowTorchError(env, label, "no operator with this schema name in this libtorch build");
  AddonState& state = State(env);
  state.ops.push_back(*handle);
  return Napi::Number::New(env, static_cast<double>(state.ops.size() - 1));
}

c10::OperatorHandle& OpById(Napi::Env env, const Napi::Value& id, const char* what) {
  AddonState& state = State(env);
  if (!id.IsNumber()) ThrowTypeError(env, what, "op id must be a number from resolveOp");
  int64_t i = id.As<Napi::Number>().Int64Value();
  if (i < 0 || i >= static_cast<int64_t>(state.ops.size())) ThrowTypeError(env, what, "unknown op id");
  return state.ops[i];
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& op = OpById(env, info[0], "opSchema");
  std::ostringstream s;
  s << op.schema();
  return Napi::String::New(env, s.str());
}

// callOp(id, args[], kwargs?) -> result (a tensor, a number, an array for several results).
// args are positional in schema order; kwargs fill the rest by name; anything missing takes the
// schema's default.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const c10::OperatorHandle& op = OpById(env, info[0], "callOp");
  const c10::FunctionSchema& schema = op.schema();
  std::string label = schema.name().substr(schema.name().rfind(':') + 1) +
                      (schema.overload_name().empty() ? "" : "." + schema.overload_name());
  if (info.Length() < 2 || !info[1].IsArray()) ThrowTypeError(env, label, "expected an argument array");
  Napi::Array args = info[1].As<Napi::Array>();
  Napi::Object kwargs = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object();
  const auto& formals = schema.arguments();
  if (args.Length() > formals.size()) {
    ThrowTypeError(env, label, "takes at most " + std::to_string(formals.size()) + " arguments, got " +
                                   std::to_string(args.Length()));
  }

  if (!kwargs.IsEmpty()) {
    // A misspelt keyword would otherwise be ignored and its default used without a word.
    Napi::Array names = kwargs.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string name = names.Get(i).ToString().Utf8Value();
      if (kwargs.Get(name).IsUndefined()) continue;
      bool known = false;
      for (const auto& arg : formals) known = known || arg.name() == name;
      if (!known) {
        std::string valid;
        for (const auto& arg : formals) valid += (valid.empty() ? "" : ", ") + arg.name();
        ThrowTypeError(env, label, "unknown keyword argument '" + name + "' (valid: " + valid + ")");
      }
    }
  }

  torch::jit::Stack stack;
  stack.reserve(formals.size());
  std::vector<std::pair<at::Tensor, Napi::Value>> tensorInputs;
  for (size_t i = 0; i < formals.size(); i++) {
    const c10::Argument& arg = formals[i];
    Napi::Value v = i < args.Length() ? args.Get(i) : env.Undefined();
    if (v.IsUndefined() && !kwargs.IsEmpty() && kwargs.Has(arg.name())) v = kwargs.Get(arg.name());
    if (v.IsUndefined()) {
      if (arg.default_value()) {
        stack.push_back(*arg.default_value());
        continue;
      }
      if (arg.type()->kind() == c10::TypeKind::OptionalType) {
        stack.emplace_back();
        continue;
      }
      ThrowTypeError(env, label, "missing " + ArgLabel(schema, arg));
    }
    const c10::TypePtr& type = arg.real_type();
    stack.push_back(ToIValue(env, v, type, arg, label, ArgLabel(schema, arg)));
    if (stack.back().isTensor()) tensorInputs.emplace_back(stack.back().toTensor(), v);
  }

  return Guarded(env, label.c_str(), [&]() -> Napi::Value {
    op.callBoxed(&stack);
    if (stack.size() == 1) return FromIValue(env, stack[0], tensorInputs);
    Napi::Array out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); i++) out.Set(i, FromIValue(env, stack[i], tensorInputs));
    return out;
  });
}

}  // namespace

void InitDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("resolveOp", Napi::Function::New(env, ResolveOp, "resolveOp"));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema, "opSchema"));
  exports.Set("callOp", Napi::Function::New(env, CallOp, "callOp"));
}

}  // namespace adaseg
