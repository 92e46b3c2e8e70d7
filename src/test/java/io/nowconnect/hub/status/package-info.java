/** Tests of the hub's status page: in a real browser (Selenium, Debian's chromium), over HTTP, and its parts. */
package io.nowconnect.hub.status;
