/**
 * The reason code of "I would rather not say": an unsubscribe reason like the others in Admin →
 * Reasons (labels per language, order, shown or not), except that recipient pages preselect it and
 * choosing it records no reason (null), exactly as giving none. Shared by server and browser code.
 */
export const NO_REASON_CODE = "prefer_not_to_say";
