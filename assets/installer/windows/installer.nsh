; NSIS include: register and start the privileged helper as a Windows service (LocalSystem),
; and stop/remove it on uninstall (Mullvad's installer.nsh pattern). wintun.dll ships beside it.
!macro customInstall
  nsExec::ExecToLog '"$INSTDIR\resources\meshtray-helper.exe" --register-service'
  nsExec::ExecToLog 'sc.exe start MeshtrayHelper'
!macroend
!macro customUnInstall
  nsExec::ExecToLog 'sc.exe stop MeshtrayHelper'
  nsExec::ExecToLog '"$INSTDIR\resources\meshtray-helper.exe" --unregister-service'
!macroend
