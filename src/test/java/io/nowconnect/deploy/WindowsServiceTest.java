package io.nowconnect.deploy;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.config.EnvFile;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.not;

/** deploy/windows: NSSM parameters, paths against the archive layout, values against the agent's parser. */
@Timeout(60)
class WindowsServiceTest {
    private static final String INSTALL = ProjectFiles.read("deploy/windows/install-service.ps1");
    private static final String UNINSTALL = ProjectFiles.read("deploy/windows/uninstall-service.ps1");

    @Test
    void installSetsTheNssmParameters() {
        for (String setting : new String[] {
                "set $ServiceName AppDirectory $InstallDir",
                "set $ServiceName Start SERVICE_AUTO_START",
                "set $ServiceName AppStdout \"$logs\\agent.out.log\"",
                "set $ServiceName AppStderr \"$logs\\agent.err.log\"",
                "set $ServiceName AppRotateFiles 1",
                "set $ServiceName AppRotateOnline 1",
                "set $ServiceName AppRotateBytes 10485760",
                "set $ServiceName AppExit Default Restart",
                "set $ServiceName AppRestartDelay 2000",
                "set $ServiceName AppStopMethodSkip 6",
                "set $ServiceName AppParameters"}) {
            assertThat(INSTALL, containsString("Invoke-Nssm " + setting));
        }
        assertThat(INSTALL, containsString("[string]$ServiceName = 'NowConnectAgent'"));
        assertThat(INSTALL, containsString("[string]$InstallDir = 'C:\\nowconnect'"));
        // JVM options after the defaults, as JAVA_OPTS_APPEND for the cmd launcher
        assertThat(INSTALL, containsString("[string]$JavaOptionsAppend = ''"));
        assertThat(INSTALL, containsString("-XX:+ExitOnOutOfMemoryError ' +\n"
                + "    $(if ($JavaOptionsAppend.Trim()) { $JavaOptionsAppend.Trim() + ' ' } else { '' }) +\n    '-cp '"));
        assertThat("secrets stay out of the registry", INSTALL, not(containsString("AppEnvironmentExtra")));
    }

    @Test
    void stopWaitExceedsDrain() {
        Matcher m = Pattern.compile("AppStopMethodConsole (\\d+)").matcher(INSTALL);
        assertThat(m.find(), is(true));
        int drainSec = Integer.parseInt(ProjectFiles.commentedVariables().get("NC_DRAIN_TIMEOUT_SEC"));
        assertThat(Integer.parseInt(m.group(1)), greaterThan(drainSec * 1000));
    }

    @Test
    void parametersPointAtTheArchiveLayoutAndEnvFile() {
        assertThat(INSTALL, containsString("io.nowconnect.Main "));
        assertThat(INSTALL, containsString("'agent --env-file ' + (Quote \"$InstallDir\\agent.env\")"));
        assertThat(INSTALL, containsString("$InstallDir\\lib\\nowconnect.jar;$InstallDir\\lib\\libs\\*"));
        String dist = ProjectFiles.read("src/assembly/dist.xml");
        assertThat(dist, containsString("<outputDirectory>lib/libs</outputDirectory>"));
        assertThat(dist, containsString("<destName>nowconnect.jar</destName>"));
        assertThat(INSTALL, containsString("etc\\nowconnect.env.example"));
        assertThat(ProjectFiles.read("pom.xml"), containsString("<mainClass>io.nowconnect.Main</mainClass>"));
    }

    @Test
    void windowsPathsSurviveTheEnvFileParser() {
        Map<String, String> vars = EnvFile.parse("NC_TOKEN_FILE=C:\\nowconnect\\agent.token\n"
                                                 + "NC_CA_BUNDLE=\"C:\\\\Program Files\\\\nowconnect\\\\ca.pem\"\r\n", "test");
        assertThat(vars.get("NC_TOKEN_FILE"), is("C:\\nowconnect\\agent.token"));
        assertThat(vars.get("NC_CA_BUNDLE"), is("C:\\Program Files\\nowconnect\\ca.pem"));
        assertThat(INSTALL, containsString("C:\\nowconnect\\agent.token"));
    }

    @Test
    void uninstallStopsGracefullyAndRemoves() {
        assertThat(UNINSTALL, containsString("[string]$ServiceName = 'NowConnectAgent'"));
        assertThat(UNINSTALL, containsString("& $Nssm stop $ServiceName"));
        assertThat(UNINSTALL, containsString("& $Nssm remove $ServiceName confirm"));
    }

    @Test
    void cmdLauncherUsesTheSameClassPathAndCrlf() {
        String cmd = ProjectFiles.read("src/dist/bin/nowconnect.cmd");
        assertThat(cmd, containsString("-cp \"%APP_HOME%\\lib\\nowconnect.jar;%APP_HOME%\\lib\\libs\\*\" io.nowconnect.Main %*"));
        assertThat(cmd, containsString("-XX:+UseSerialGC -Xms24m -XX:NewSize=12m -XX:SurvivorRatio=4 -Xmx128m -XX:-TieredCompilation -XX:CICompilerCount=1 -XX:+ExitOnOutOfMemoryError"));
        assertThat("cmd.exe needs CRLF", cmd.replace("\r\n", "").contains("\n"), is(false));
        // the hub's own defaults, the same as in the POSIX launcher
        java.util.regex.Matcher hub = java.util.regex.Pattern.compile("DEFAULT_HUB_JAVA_OPTS=\"([^\"]+)\"")
                .matcher(ProjectFiles.read("src/dist/bin/nowconnect"));
        assertThat(hub.find(), is(true));
        assertThat(cmd, containsString("set \"DEFAULT_HUB_JAVA_OPTS=" + hub.group(1) + "\""));
        assertThat(cmd, containsString("if /i \"%~1\"==\"hub\" set \"DEFAULT_JAVA_OPTS=%DEFAULT_HUB_JAVA_OPTS%\""));
        // class data sharing per mode, as the POSIX launcher (NC_CDS_DIR; "off" turns it off; none for "hub check")
        assertThat(cmd, containsString("set CDS_OPTS=-XX:+AutoCreateSharedArchive "
                + "\"-XX:SharedArchiveFile=%CDS_DIR%\\nowconnect-%CDS_MODE%.jsa\" \"-Xlog:cds*=off\""));
        assertThat(cmd, containsString("for %%m in (agent hub demo) do"));
        assertThat(cmd, containsString("if /i \"%CDS_DIR%\"==\"off\" set \"CDS_DIR=\""));
        assertThat(cmd, containsString("if /i \"%CDS_MODE%\"==\"hub\" if /i \"%~2\"==\"check\" set \"CDS_ON=\""));
        assertThat(cmd, containsString("\"%JAVA_EXE%\" %CDS_OPTS% %RUN_JAVA_OPTS% -cp"));
        // JAVA_OPTS_APPEND after JAVA_OPTS or the defaults, as in the POSIX launcher
        assertThat(cmd, containsString("if defined JAVA_OPTS_APPEND set \"RUN_JAVA_OPTS=%RUN_JAVA_OPTS% %JAVA_OPTS_APPEND%\""));
    }
}
