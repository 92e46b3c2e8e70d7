<#
.SYNOPSIS
  Stops and removes the NowConnectAgent Windows service (NSSM). Leaves C:\nowconnect (config, token, logs) in place.
  Run from an elevated PowerShell:
    powershell -ExecutionPolicy Bypass -File C:\nowconnect\deploy\windows\uninstall-service.ps1
#>
[CmdletBinding()]
param(
    [string]$Nssm = 'nssm.exe',
    [string]$ServiceName = 'NowConnectAgent'
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue)) {
    Write-Host "Service $ServiceName is not installed."
    exit 0
}
# nssm stop sends Ctrl+C and waits AppStopMethodConsole (45 s) for the agent to drain.
& $Nssm stop $ServiceName
& $Nssm remove $ServiceName confirm
if ($LASTEXITCODE -ne 0) { throw "nssm remove $ServiceName failed with exit code $LASTEXITCODE" }
Write-Host "Service $ServiceName removed. C:\nowconnect was left in place."
