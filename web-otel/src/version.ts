/** the library's version, as its instrumentation scope version */
export const VERSION = '0.1.0';
