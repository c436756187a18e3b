/** The longest note an operator can keep with a suppression or its removal (safe for the browser). */
export const NOTE_MAX = 1000;
