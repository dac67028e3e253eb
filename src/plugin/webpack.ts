import unplugin from './index.js'

/** The webpack plugin: `plugins: [mpscnn()]`. */
export default unplugin.webpack
