@echo off
rem NowConnect launcher (Windows cmd).  Usage: nowconnect [agent|hub|demo|token] [--env-file FILE] [options]
rem   JAVA_HOME  Java 21+ installation to use (else java.exe on PATH)
rem   JAVA_OPTS  JVM options; when set it replaces the defaults below (the hub's for mode "hub")
rem   JAVA_OPTS_APPEND  JVM options added after JAVA_OPTS or the defaults (of two settings of an option the later wins)
rem   NC_CDS_DIR directory for the class data sharing archives (default %LOCALAPPDATA%\nowconnect\cds); "off"
rem              turns class data sharing off
rem Ctrl+C reaches java.exe (same console), which drains open streams before it exits.
rem For a Windows service use deploy\windows\install-service.ps1 (NSSM runs java.exe directly).
setlocal

set "DEFAULT_JAVA_OPTS=-XX:+UseSerialGC -Xms24m -XX:NewSize=12m -XX:SurvivorRatio=4 -Xmx128m -XX:-TieredCompilation -XX:CICompilerCount=1 -XX:+ExitOnOutOfMemoryError"
rem The hub: a heap for NC_HUB_MAX_TUNNELS (10,000) idle agent tunnels and the NC_HUB_MAX_CONNECTIONS streams, and
rem G1 with a 20 ms pause goal (a pause stops every tenant; see bin/nowconnect).
set "DEFAULT_HUB_JAVA_OPTS=-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -Xms64m -Xmx512m -XX:-TieredCompilation -XX:CICompilerCount=1 -XX:+ExitOnOutOfMemoryError"
if /i "%~1"=="hub" set "DEFAULT_JAVA_OPTS=%DEFAULT_HUB_JAVA_OPTS%"
set "MIN_JAVA=21"
for %%i in ("%~dp0..") do set "APP_HOME=%%~fi"

if defined JAVA_HOME (
    set "JAVA_EXE=%JAVA_HOME%\bin\java.exe"
) else (
    set "JAVA_EXE="
    for /f "delims=" %%j in ('where java.exe 2^>nul') do if not defined JAVA_EXE set "JAVA_EXE=%%j"
)
if not defined JAVA_EXE (
    echo nowconnect: no Java found; install Java %MIN_JAVA% or newer, or set JAVA_HOME 1>&2
    exit /b 1
)
if not exist "%JAVA_EXE%" (
    echo nowconnect: JAVA_HOME is set to "%JAVA_HOME%" but "%JAVA_EXE%" does not exist 1>&2
    exit /b 1
)

rem First quoted string of "java -version": "21.0.4", "17.0.12", "25", "1.8.0_412".
set "JAVA_VERSION="
rem The ^"...^" wrapping keeps cmd /c from stripping the quotes of a path with spaces or parentheses.
for /f tokens^=2^ delims^=^" %%v in ('^""%JAVA_EXE%" -version 2^>^&1^"') do if not defined JAVA_VERSION set "JAVA_VERSION=%%v"
set "JAVA_MAJOR="
for /f "tokens=1,2 delims=._-+" %%a in ("%JAVA_VERSION%") do (
    set "JAVA_MAJOR=%%a"
    if "%%a"=="1" set "JAVA_MAJOR=%%b"
)
if not defined JAVA_MAJOR set "JAVA_MAJOR=0"
set /a JAVA_MAJOR_NUM=JAVA_MAJOR 2>nul
if %JAVA_MAJOR_NUM% LSS %MIN_JAVA% (
    echo nowconnect: Java %MIN_JAVA% or newer is required, but "%JAVA_EXE%" is version %JAVA_VERSION%; set JAVA_HOME to a Java %MIN_JAVA%+ installation 1>&2
    exit /b 1
)

if defined JAVA_OPTS (set "RUN_JAVA_OPTS=%JAVA_OPTS%") else (set "RUN_JAVA_OPTS=%DEFAULT_JAVA_OPTS%")
if defined JAVA_OPTS_APPEND set "RUN_JAVA_OPTS=%RUN_JAVA_OPTS% %JAVA_OPTS_APPEND%"

rem Class data sharing (AppCDS), as in bin/nowconnect: the first start of a mode (agent, hub, demo) writes the classes
rem it loaded to an archive when the JVM exits, later starts map it (about half the time to READY). The JVM rewrites an
rem archive that no longer matches the JDK or the jar. Off when the directory cannot be written, and for "hub check"
rem (its archive would hold the check's classes, not the hub's); its messages are off (stdout carries the logs).
set "CDS_OPTS="
set "CDS_MODE=%~1"
if not defined CDS_MODE set "CDS_MODE=agent"
if "%CDS_MODE:~0,1%"=="-" set "CDS_MODE=agent"
set "CDS_ON="
for %%m in (agent hub demo) do if /i "%CDS_MODE%"=="%%m" set "CDS_ON=1"
if /i "%CDS_MODE%"=="hub" if /i "%~2"=="check" set "CDS_ON="
set "CDS_DIR="
if defined LOCALAPPDATA set "CDS_DIR=%LOCALAPPDATA%\nowconnect\cds"
if defined NC_CDS_DIR set "CDS_DIR=%NC_CDS_DIR%"
if /i "%CDS_DIR%"=="off" set "CDS_DIR="
if not defined CDS_DIR set "CDS_ON="
if defined CDS_ON if not exist "%CDS_DIR%\" mkdir "%CDS_DIR%" >nul 2>&1
if defined CDS_ON copy /y nul "%CDS_DIR%\.nowconnect-write-test" >nul 2>&1 || set "CDS_ON="
if defined CDS_ON del "%CDS_DIR%\.nowconnect-write-test" >nul 2>&1
rem quoted: the directory may hold spaces (C:\Users\First Last\AppData\Local), and "*" must reach the JVM as it is
if defined CDS_ON set CDS_OPTS=-XX:+AutoCreateSharedArchive "-XX:SharedArchiveFile=%CDS_DIR%\nowconnect-%CDS_MODE%.jsa" "-Xlog:cds*=off"

"%JAVA_EXE%" %CDS_OPTS% %RUN_JAVA_OPTS% -cp "%APP_HOME%\lib\nowconnect.jar;%APP_HOME%\lib\libs\*" io.nowconnect.Main %*
exit /b %ERRORLEVEL%
