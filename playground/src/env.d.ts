// `import model from './models/inception_v3_mini.pb'` is typed by the package's client types.
/// <reference types="unplugin-mpscnn/client" />
