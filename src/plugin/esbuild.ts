import unplugin from './index.js'

/** The esbuild plugin: `plugins: [mpscnn()]`. */
export default unplugin.esbuild
