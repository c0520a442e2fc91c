import ArgumentParser
import EstuaryCLI

EstuaryCommand.main()
