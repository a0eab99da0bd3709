/** A command that cannot do what was asked; the CLI prints `aihub: <message>` (one line, no stack) and exits 1. */
export class CommandError extends Error {}
