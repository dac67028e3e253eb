import type http from 'node:http'

export declare const CONTENT_TYPES: Record<string, string>
export declare function createStaticServer(root: string): http.Server
export declare function serve(root: string, options?: { port?: number; host?: string }): Promise<{ server: http.Server; url: string }>
