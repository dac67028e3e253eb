import unplugin from './index.js'

/** The vite plugin: `plugins: [mpscnn()]`. */
export default unplugin.vite
