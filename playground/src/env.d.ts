// `import model from './models/inception_v3_mini.pb'` is typed by the package's client types.
/// <reference types="unplugin-mpscnn/client" />
// `?url` imports (the wasm backend's .wasm files): a URL string.
declare module '*?url' {
  const url: string
  export default url
}
