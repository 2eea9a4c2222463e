import CLibevent
import GatewayCore
public enum GatewayProxyModule { public static func eventVersion() -> String { String(cString: event_get_version()) } }
