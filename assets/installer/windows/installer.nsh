; NSIS include (electron-builder nsis.include): registers Meshtray's privileged helper as a Windows
; service running as LocalSystem, and stops/deletes it on uninstall. electron-builder ships the
; helper (a Node single executable application, scripts/build-helper.mjs) in
; $INSTDIR\resources\helper\ via extraResources; the Electron binary never runs it.
; An upgrade runs the old uninstaller first (customUnInstall), then customInstall: the service is
; stopped (the helper restores routes and DNS on stop), deleted and created again for the new files.
; NOTE: the service control manager expects the program to call StartServiceCtrlDispatcher; the
; helper's --windows-service mode is what must do that (not implemented yet, see main/app/README.md).
; Checked by test/unit/installer/installer-files.test.ts.

!define MESHTRAY_SERVICE "MeshtrayHelper"
!define MESHTRAY_HELPER_EXE "$INSTDIR\resources\helper\meshtray-helper.exe"

!macro customInstall
  DetailPrint "Registering the Meshtray helper service"
  nsExec::ExecToLog 'sc.exe stop ${MESHTRAY_SERVICE}'
  Pop $0
  nsExec::ExecToLog 'sc.exe delete ${MESHTRAY_SERVICE}'
  Pop $0
  nsExec::ExecToLog 'sc.exe create ${MESHTRAY_SERVICE} binPath= "\"${MESHTRAY_HELPER_EXE}\" --windows-service --socket \\.\pipe\meshtray-helper" start= auto obj= LocalSystem DisplayName= "Meshtray helper"'
  Pop $0
  StrCmp $0 "0" +2
    MessageBox MB_ICONEXCLAMATION "The Meshtray helper service could not be registered (sc.exe create: $0). Meshtray can log in but not carry traffic."
  nsExec::ExecToLog 'sc.exe description ${MESHTRAY_SERVICE} "Meshtray privileged helper: TUN, routes and DNS for the Meshtray app"'
  Pop $0
  nsExec::ExecToLog 'sc.exe failure ${MESHTRAY_SERVICE} reset= 86400 actions= restart/2000/restart/5000//'
  Pop $0
  nsExec::ExecToLog 'sc.exe start ${MESHTRAY_SERVICE}'
  Pop $0
!macroend

!macro customUnInstall
  DetailPrint "Removing the Meshtray helper service"
  nsExec::ExecToLog 'sc.exe stop ${MESHTRAY_SERVICE}'
  Pop $0
  ; sc.exe stop returns before the service has stopped; give it its stop timeout to restore routes.
  Sleep 3000
  nsExec::ExecToLog 'sc.exe delete ${MESHTRAY_SERVICE}'
  Pop $0
!macroend
