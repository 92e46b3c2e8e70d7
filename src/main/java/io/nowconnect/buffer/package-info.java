/**
 * Byte arrays reused across threads ({@link io.nowconnect.buffer.ArrayPool}): the bulk path's large arrays, which a
 * stream or a tunnel writer holds only while it moves data, come from a small pool of the process instead of the heap,
 * so that bulk does not fill the young generation with arrays of 64-128 KiB.
 */
package io.nowconnect.buffer;
