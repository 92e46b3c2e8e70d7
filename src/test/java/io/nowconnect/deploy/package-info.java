/**
 * Checks of the deployment files (archive layout, launchers, systemd, Windows service, containers, Kubernetes)
 * against each other and against the configuration parser; they read the files relative to the project root.
 */
package io.nowconnect.deploy;
