import unplugin from './index.js'

/** The rspack plugin: `plugins: [mpscnn()]`. */
export default unplugin.rspack
