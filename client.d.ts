// Types for `import model from './model.pb'` with unplugin-mpscnn.
// Add `"types": ["unplugin-mpscnn/client"]` to tsconfig.json, or `/// <reference types="unplugin-mpscnn/client" />`.
declare module '*.pb' {
  const manifest: import('unplugin-mpscnn/runtime').MpscnnManifest
  export default manifest
}
declare module '*.pbtxt' {
  const manifest: import('unplugin-mpscnn/runtime').MpscnnManifest
  export default manifest
}
// Per-import options (`./model.pb?packed&precision=float16`). A module name pattern has one
// `*` and matches by its end, so a query is typed when it ends with `?packed`, `&packed`,
// `precision=float16` or `precision=float32`: put `align=N` before those.
declare module '*.pb?packed' {
  const manifest: import('unplugin-mpscnn/runtime').MpscnnManifest
  export default manifest
}
declare module '*.pbtxt?packed' {
  const manifest: import('unplugin-mpscnn/runtime').MpscnnManifest
  export default manifest
}
declare module '*&packed' {
  const manifest: import('unplugin-mpscnn/runtime').MpscnnManifest
  export default manifest
}
declare module '*precision=float16' {
  const manifest: import('unplugin-mpscnn/runtime').MpscnnManifest
  export default manifest
}
declare module '*precision=float32' {
  const manifest: import('unplugin-mpscnn/runtime').MpscnnManifest
  export default manifest
}
