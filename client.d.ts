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
