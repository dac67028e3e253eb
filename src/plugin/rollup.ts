import unplugin from './index.js'

/** The rollup plugin: `plugins: [mpscnn()]`. */
export default unplugin.rollup
