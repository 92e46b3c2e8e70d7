<#
.SYNOPSIS
  Installs the NowConnect premise agent as the Windows service "NowConnectAgent" using NSSM.

.DESCRIPTION
  Prerequisites: Java 21+ (JAVA_HOME or -JavaHome), nssm.exe (https://nssm.cc) on PATH or -Nssm,
  the distribution unpacked to C:\nowconnect (so C:\nowconnect\lib\nowconnect.jar exists),
  C:\nowconnect\agent.env written from etc\nowconnect.env.example and the token in C:\nowconnect\agent.token
  (NC_TOKEN_FILE=C:\nowconnect\agent.token). Configuration stays in agent.env (--env-file), not in the
  service's registry entry. Run from an elevated PowerShell:
    powershell -ExecutionPolicy Bypass -File C:\nowconnect\deploy\windows\install-service.ps1
  Re-running updates the existing service's settings.
#>
[CmdletBinding()]
param(
    [string]$InstallDir = 'C:\nowconnect',
    [string]$JavaHome = $env:JAVA_HOME,
    [string]$Nssm = 'nssm.exe',
    [string]$ServiceName = 'NowConnectAgent',
    # JVM options after the defaults (of two settings of an option the later wins), as JAVA_OPTS_APPEND for
    # bin\nowconnect.cmd, e.g. '-XX:+TieredCompilation -XX:CICompilerCount=2' (see the README's Install)
    [string]$JavaOptionsAppend = ''
)
$ErrorActionPreference = 'Stop'

if (-not $JavaHome) { throw 'Java 21+ not found: set JAVA_HOME or pass -JavaHome C:\path\to\jdk-21' }
$java = Join-Path $JavaHome 'bin\java.exe'
if (-not (Test-Path $java)) { throw "java.exe not found at $java" }
# java -version writes to stderr; with 'Stop' Windows PowerShell 5.1 would turn that into an error.
$ErrorActionPreference = 'Continue'
$versionLine = (& $java -version 2>&1 | Select-Object -First 1 | Out-String).Trim()
$ErrorActionPreference = 'Stop'
if ($versionLine -match '"(\d+)(\.(\d+))?') {
    $major = [int]$Matches[1]
    if ($major -eq 1) { $major = [int]$Matches[3] }
    if ($major -lt 21) { throw "Java 21 or newer is required, but $java is: $versionLine" }
}
$jar = Join-Path $InstallDir 'lib\nowconnect.jar'
if (-not (Test-Path $jar)) { throw "$jar not found: unpack the NowConnect zip into $InstallDir first" }
$envFile = Join-Path $InstallDir 'agent.env'
if (-not (Test-Path $envFile)) {
    Copy-Item (Join-Path $InstallDir 'etc\nowconnect.env.example') $envFile
    Write-Warning "Created $envFile from the example: edit it, then start the service."
}
$logs = Join-Path $InstallDir 'logs'
New-Item -ItemType Directory -Force -Path $logs | Out-Null

function Quote([string]$value) { if ($value -match '\s') { return '"' + $value + '"' } else { return $value } }

# Default JVM options as in bin\nowconnect.cmd; java.exe runs directly so NSSM's Ctrl+C reaches it.
# With the default C:\nowconnect this is:
#   -XX:+UseSerialGC -Xms24m -XX:NewSize=12m -XX:SurvivorRatio=4 -Xmx128m -XX:-TieredCompilation -XX:CICompilerCount=1 -XX:+ExitOnOutOfMemoryError
#   -cp C:\nowconnect\lib\nowconnect.jar;C:\nowconnect\lib\libs\* io.nowconnect.Main agent --env-file C:\nowconnect\agent.env
$appParameters = '-XX:+UseSerialGC -Xms24m -XX:NewSize=12m -XX:SurvivorRatio=4 -Xmx128m -XX:-TieredCompilation -XX:CICompilerCount=1 -XX:+ExitOnOutOfMemoryError ' +
    $(if ($JavaOptionsAppend.Trim()) { $JavaOptionsAppend.Trim() + ' ' } else { '' }) +
    '-cp ' + (Quote "$InstallDir\lib\nowconnect.jar;$InstallDir\lib\libs\*") + ' io.nowconnect.Main ' +
    'agent --env-file ' + (Quote "$InstallDir\agent.env")
# PowerShell before 7.3 does not escape embedded quotes when it calls nssm.exe.
if ($PSVersionTable.PSVersion -lt [version]'7.3') { $nssmParameters = $appParameters -replace '"', '\"' }
else { $nssmParameters = $appParameters }

function Invoke-Nssm {
    & $Nssm @args
    if ($LASTEXITCODE -ne 0) { throw "nssm $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

if (-not (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue)) {
    Invoke-Nssm install $ServiceName $java
}
Invoke-Nssm set $ServiceName Application $java
Invoke-Nssm set $ServiceName AppParameters $nssmParameters
Invoke-Nssm set $ServiceName AppDirectory $InstallDir
Invoke-Nssm set $ServiceName DisplayName 'NowConnect Premise Agent'
Invoke-Nssm set $ServiceName Description 'Outbound tunnel from this site to the NowConnect hub'
Invoke-Nssm set $ServiceName Start SERVICE_AUTO_START
# Logs: stdout/stderr to rotating files (rotate at 10 MiB, also while running).
Invoke-Nssm set $ServiceName AppStdout "$logs\agent.out.log"
Invoke-Nssm set $ServiceName AppStderr "$logs\agent.err.log"
Invoke-Nssm set $ServiceName AppRotateFiles 1
Invoke-Nssm set $ServiceName AppRotateOnline 1
Invoke-Nssm set $ServiceName AppRotateBytes 10485760
# Restart whenever the JVM exits, after 2 s.
Invoke-Nssm set $ServiceName AppExit Default Restart
Invoke-Nssm set $ServiceName AppRestartDelay 2000
# Graceful stop: Ctrl+C only (skip WM_CLOSE=2 and TerminateThread=4, 2+4=6), then wait 45 s for the
# drain (NC_DRAIN_TIMEOUT_SEC, 30 s) before NSSM terminates the process.
Invoke-Nssm set $ServiceName AppStopMethodSkip 6
Invoke-Nssm set $ServiceName AppStopMethodConsole 45000
Invoke-Nssm set $ServiceName AppKillProcessTree 1

Write-Host "Service $ServiceName installed. Start it with: Start-Service $ServiceName  (or: nssm start $ServiceName)"
Write-Host "Logs: $logs. Health: Test-NetConnection localhost -Port 8090"
