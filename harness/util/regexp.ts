// Text put into a regular expression literally.

/** `text` with every character a RegExp gives a meaning escaped. */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
