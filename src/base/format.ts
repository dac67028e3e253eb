/** `91.2 MB`, `867.1 kB`, `16 B`: sizes in log lines. */
export function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`
  return `${n} B`
}

/** `"a.txt", "src" and 3 more`: what a folder holds, in an error message. */
export function formatNames(names: string[], shown = 3): string {
  const quoted = names.slice(0, shown).map((n) => JSON.stringify(n))
  if (names.length <= shown) return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}` : quoted.join('')
  return `${quoted.join(', ')} and ${names.length - shown} more`
}

/** `1 layer`, `95 layers`, `1 cache entry`, `2 cache entries`: a count and its noun, in agreement. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}
