{
  "targets": [
    {
      "target_name": "torch_native",
      "sources": [
        "native/addon.cc",
        "native/tensor.cc",
        "native/dispatch.cc",
        "native/allocator.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/libtorch.cjs include)"
      ],
      "libraries": [
        "-L<!(node scripts/libtorch.cjs libdir)",
        "-Wl,-rpath,<!(node scripts/libtorch.cjs libdir)",
        "-Wl,--no-as-needed",
        "<!@(node scripts/libtorch.cjs libs)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "ADASEG_HAS_CUDA=<!(node scripts/libtorch.cjs cuda)",
        "ADASEG_LIBTORCH_RECORD=\"<!(node scripts/libtorch.cjs record)\""
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
    }
  ]
}
