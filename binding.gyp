{
  # One gyp file for every native kernel. Each addon has a readable TypeScript reference beside it
  # (core/egru/reference.ts, core/events/codecs/lz4.ts); tests hold the two equal.
  "targets": [
    {
      "target_name": "events_native",
      "sources": ["core/events/native/events_native.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-ffp-contract=off"],
      "cflags_cc!": ["-fno-rtti"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=off"] },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/O2", "/std:c++17"] } }
    },
    {
      "target_name": "egru_native",
      "sources": ["core/egru/native/egru_native.cc", "core/egru/native/egru_pool.cc", "core/egru/native/egru_model_ops.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-ffp-contract=off"],
      "cflags_cc!": ["-fno-rtti"],
      "dependencies": ["egru_isa_generic"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", {
          "defines": ["EGRU_X86"],
          "dependencies": ["egru_isa_avx2", "egru_isa_avx512"]
        }]
      ],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=off"] },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/O2", "/std:c++17"] } }
    },
    {
      "target_name": "egru_isa_generic",
      "type": "static_library",
      "sources": ["core/egru/native/egru_isa_generic.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-fPIC", "-ffp-contract=fast"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=fast"] }
    },
    {
      "target_name": "egru_isa_avx2",
      "type": "static_library",
      "sources": ["core/egru/native/egru_isa_avx2.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-fPIC", "-ffp-contract=fast"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", {
          "cflags_cc": ["-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=fast", "-mavx2", "-mfma"] }
        }]
      ]
    },
    {
      "target_name": "egru_isa_avx512",
      "type": "static_library",
      "sources": ["core/egru/native/egru_isa_avx512.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-fPIC", "-ffp-contract=fast"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", {
          "cflags_cc": ["-mavx2", "-mfma", "-mavx512f", "-mprefer-vector-width=512"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=fast", "-mavx2", "-mfma",
                                                       "-mavx512f"] }
        }]
      ]
    }
  ]
}
